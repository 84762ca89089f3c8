/**
 * The runner's side of the journal: numbered log lines and lifecycle events
 * of its deployment, each appended as it happens as the `deployment.*`
 * message the agent will forward (journal/entry.ts).
 */
import { MAX_LOG_LINE_CHARS, type LogStream, type OutcomeStatus } from '@drover/protocol';
import { files } from '../state.js';
import { appendEntry, finishedEntry } from '../journal/entry.js';
import { JournalReader } from '../journal/reader.js';

export class Journal {
  private seq = 0;
  finished = false;
  private readonly reader: JournalReader;

  constructor(
    private readonly dir: string,
    private readonly id: string,
  ) {
    // Continue numbering after lines an earlier runner of this deployment wrote.
    this.reader = new JournalReader(files.events(dir), { deploymentId: id });
    this.catchUp();
  }

  /** Reads on: did another runner of this deployment finish it meanwhile? */
  finishedElsewhere(): boolean {
    this.catchUp();
    return this.finished;
  }

  line(stream: LogStream, text: string): void {
    const cut = text.length > MAX_LOG_LINE_CHARS ? `${text.slice(0, MAX_LOG_LINE_CHARS)} … [line cut at ${MAX_LOG_LINE_CHARS} characters]` : text;
    appendEntry(this.dir, { type: 'deployment.log', id: this.id, lines: [{ seq: this.seq++, time: new Date().toISOString(), stream, text: cut }] });
  }

  /** A line written by Drover itself rather than a command. */
  say(text: string): void {
    this.line('agent', text);
  }

  started(): void {
    appendEntry(this.dir, { type: 'deployment.started', id: this.id, time: new Date().toISOString() });
  }

  closureSize(bytes: number): void {
    appendEntry(this.dir, { type: 'deployment.closure-size', id: this.id, closureSize: bytes });
  }

  finish(status: OutcomeStatus, reason: string | null, activePath: string | null): void {
    if (this.finished) return;
    this.finished = true;
    const shortReason = reason && reason.length > 4000 ? `${reason.slice(0, 4000)} …` : reason;
    appendEntry(this.dir, finishedEntry(this.id, status, shortReason, activePath));
  }

  /** Takes in what was appended since the last look (by an earlier runner, or by this one). */
  private catchUp(): void {
    this.reader.drain((entries) => {
      for (const entry of entries) {
        if (entry.type === 'deployment.finished') this.finished = true;
        if (entry.type !== 'deployment.log') continue;
        for (const { seq } of entry.lines) if (seq >= this.seq) this.seq = seq + 1;
      }
    });
  }
}
