/**
 * Notices a replay that keeps failing: the server closes the connection
 * again and again soon after registration (typically 1011 after a frame it
 * cannot store), so the same journal is replayed and refused in a loop.
 *
 * The second such close in a row logs one error naming the deployment — the
 * one the server's close reason names, else every deployment replayed —
 * then the same finding is logged at debug level only, until a connection
 * stays healthy or the suspects change.
 */
import type { Logger } from 'pino';
import type { ClosedConnection } from './connection.js';

/** Closes in a row before the error is logged. */
const REPORT_AFTER = 2;

export class ReplayWatch {
  private streak = 0;
  private reported = '';

  constructor(private readonly log: Logger) {}

  /** After a close; `replayed` are the deployments the last replay sent. */
  closed(closed: ClosedConnection, replayed: readonly string[]): void {
    if (!closed.registered) return; // never got as far as the replay
    if (closed.healthy) {
      this.streak = 0;
      this.reported = '';
      return;
    }
    this.streak++;
    if (this.streak < REPORT_AFTER || replayed.length === 0) return;
    const named = replayed.filter((id) => closed.reason.includes(id));
    const suspects = named.length > 0 ? named : replayed;
    const fields = { deployments: suspects, code: closed.code, reason: closed.reason, times: this.streak, retryInMs: closed.retryInMs };
    const text =
      `the server closed the connection (${closed.code} ${closed.reason}) after the replay of deployment ${suspects.join(', ')} ` +
      `${this.streak} times in a row; it cannot store something in that journal (its log says what). Retrying with backoff, next in ${Math.round(closed.retryInMs / 1000)}s`;
    const key = suspects.join(' ');
    if (key === this.reported) this.log.debug(fields, text);
    else this.log.error(fields, text);
    this.reported = key;
  }
}
