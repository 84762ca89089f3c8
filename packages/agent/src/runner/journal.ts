/**
 * The runner's side of the journal: numbered log lines and lifecycle events
 * of its deployment, each appended as it happens as the `deployment.*`
 * message the agent will forward (journal/entry.ts).
 *
 * A write that fails (a full state directory) never throws into the
 * deployment: the entry is dropped and counted, the first failure is kept
 * (`writeFailure`, so the runner can stop before activation), and the next
 * entry that can be written is preceded by a line saying how many were lost.
 * An outcome that cannot be written is kept (`unwritten`) for `flush()`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_LOG_LINE_CHARS, type ClosureDiff, type DeploymentFinishedMessage, type LogStream, type OutcomeStatus, type WouldRestart } from '@drover/protocol';
import { files } from '../state.js';
import { appendEntry, finishedEntry, type JournalEntry } from '../journal/entry.js';
import { JournalReader } from '../journal/reader.js';
import { tryWrite } from '../write-failure.js';

export class Journal {
  private seq = 0;
  finished = false;
  /** The first write that failed, or null. */
  writeFailure: Error | null = null;
  /** The outcome, if it could not be written yet. */
  unwritten: DeploymentFinishedMessage | null = null;
  private lost = 0;
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
    this.append({ type: 'deployment.log', id: this.id, lines: [{ seq: this.seq++, time: new Date().toISOString(), stream, text: cut }] });
  }

  /** A line written by Drover itself rather than a command. */
  say(text: string): void {
    this.line('agent', text);
  }

  started(): void {
    this.append({ type: 'deployment.started', id: this.id, time: new Date().toISOString() });
  }

  closureSize(bytes: number): void {
    this.append({ type: 'deployment.closure-size', id: this.id, closureSize: bytes });
  }

  diff(diff: ClosureDiff): void {
    this.append({ type: 'deployment.diff', id: this.id, diff });
  }

  /** A dry run's finding: the units a switch would change, or null when the profile type cannot say. */
  wouldRestart(units: WouldRestart | null): void {
    this.append({ type: 'deployment.would-restart', id: this.id, wouldRestart: units });
  }

  finish(status: OutcomeStatus, reason: string | null, activePath: string | null): void {
    if (this.finished) return;
    this.finished = true;
    const shortReason = reason && reason.length > 4000 ? `${reason.slice(0, 4000)} …` : reason;
    const outcome = finishedEntry(this.id, status, shortReason, activePath);
    if (!this.append(outcome)) this.unwritten = outcome;
  }

  /** Retries writing an outcome that could not be written, every `everyMs` until `withinMs` passed; true once it is written (or none was pending). */
  async flush(withinMs: number, everyMs = 2000): Promise<boolean> {
    const deadline = Date.now() + withinMs;
    while (this.unwritten) {
      if (this.append(this.unwritten)) this.unwritten = null;
      else if (Date.now() >= deadline) return false;
      else await sleep(everyMs);
    }
    return true;
  }

  /** Appends one entry, first saying how many were lost if some were; false (counted) if it cannot be written. */
  private append(entry: JournalEntry): boolean {
    if (this.lost > 0) {
      const note = {
        type: 'deployment.log' as const,
        id: this.id,
        lines: [
          {
            seq: this.seq,
            time: new Date().toISOString(),
            stream: 'agent' as const,
            text: `${this.lost} journal entries could not be written (the state directory was not writable) and are missing`,
          },
        ],
      };
      if (tryWrite(() => appendEntry(this.dir, note)) !== null) return this.drop(entry);
      this.seq++;
      this.lost = 0;
    }
    const failure = tryWrite(() => appendEntry(this.dir, entry));
    if (failure === null) return true;
    this.writeFailure ??= failure;
    return this.drop(entry);
  }

  private drop(entry: JournalEntry): false {
    if (entry.type !== 'deployment.finished') this.lost++;
    return false;
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
