/**
 * The runner's side of the events file: numbered log lines and lifecycle
 * events, each appended as it happens.
 */
import { MAX_LOG_LINE_CHARS, type LogStream, type OutcomeStatus } from '@drover/protocol';
import { appendEvent, readEvents } from '../state.js';

export class Journal {
  private seq: number;
  finished = false;

  constructor(private readonly dir: string) {
    // Continue numbering after lines an earlier runner of this deployment wrote.
    const { events } = readEvents(dir, 0);
    this.seq = events.reduce((max, e) => (e.type === 'log' && e.seq >= max ? e.seq + 1 : max), 0);
    this.finished = events.some((e) => e.type === 'finished');
  }

  /** Re-reads the file: did another runner of this deployment finish it meanwhile? */
  finishedElsewhere(): boolean {
    this.finished = readEvents(this.dir, 0).events.some((e) => e.type === 'finished');
    return this.finished;
  }

  line(stream: LogStream, text: string): void {
    const cut = text.length > MAX_LOG_LINE_CHARS ? `${text.slice(0, MAX_LOG_LINE_CHARS)} … [line cut at ${MAX_LOG_LINE_CHARS} characters]` : text;
    appendEvent(this.dir, { type: 'log', seq: this.seq++, time: new Date().toISOString(), stream, text: cut });
  }

  /** A line written by Drover itself rather than a command. */
  say(text: string): void {
    this.line('agent', text);
  }

  started(): void {
    appendEvent(this.dir, { type: 'started', time: new Date().toISOString() });
  }

  closureSize(bytes: number): void {
    appendEvent(this.dir, { type: 'closure-size', closureSize: bytes });
  }

  finish(status: OutcomeStatus, reason: string | null, activePath: string | null): void {
    if (this.finished) return;
    this.finished = true;
    const shortReason = reason && reason.length > 4000 ? `${reason.slice(0, 4000)} …` : reason;
    appendEvent(this.dir, { type: 'finished', time: new Date().toISOString(), status, reason: shortReason, activePath });
  }
}
