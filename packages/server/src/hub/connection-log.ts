/**
 * The lines a replica logs as agents come and go: one `agent connected` or
 * `agent disconnected` line each while they are few, and one summary a
 * window once they are many.
 *
 * A fleet reconnecting after a restart logs a line per agent: 100,000 lines
 * in a minute that nobody reads one by one, which journald's default rate
 * limit (10,000 a service per 30 s) would drop anyway, and whose formatting
 * and writing took ~8 % of the server's CPU per registration
 * (bench/README.md). So the first `burst` lines of each `windowMs` window
 * are logged at info as always; after them each line goes to debug (lost
 * only at the default level), and when the window ends one info line says how
 * many agents connected and disconnected that were not named. A single agent
 * flapping still shows up line by line. Once the replica shuts down
 * (`close`: the hub said how many connections it closes) each line goes to
 * debug, with no summary a stopping process could not write.
 */
import type { Logger } from 'pino';

export interface ConnectionLogOptions {
  /** The window the burst is counted in. */
  readonly windowMs: number;
  /** Lines each window logs at info before it summarises the rest. */
  readonly burst: number;
}

const CONNECTION_LOG_DEFAULTS: ConnectionLogOptions = { windowMs: 10_000, burst: 100 };

type Change = 'connected' | 'disconnected';

export class ConnectionLog {
  private windowStart = -Infinity;
  private lines = 0;
  /** Agents not named at info in the current window, by change. */
  private readonly unnamed = { connected: 0, disconnected: 0 };
  private summaryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly log: Logger,
    private readonly options: ConnectionLogOptions = CONNECTION_LOG_DEFAULTS,
    private readonly now: () => number = Date.now,
  ) {}

  connected(fields: { agent: string; workspace: string; version: string }): void {
    this.say('connected', fields);
  }

  disconnected(fields: { agent: string | null }): void {
    this.say('disconnected', fields);
  }

  /** Says the summary of the window now (on close, so no count is lost). */
  flush(): void {
    clearTimeout(this.summaryTimer);
    this.summaryTimer = undefined;
    const { connected, disconnected } = this.unnamed;
    if (connected + disconnected === 0) return;
    this.unnamed.connected = 0;
    this.unnamed.disconnected = 0;
    this.log.info(
      { connected, disconnected, windowMs: this.options.windowMs },
      `${connected} agents connected and ${disconnected} disconnected in ${this.options.windowMs / 1000} s without a line of their own (past ${this.options.burst} lines a window, each is logged at debug level)`,
    );
  }

  /** Says the window's summary now; later lines (the sockets the shutdown closes) go to debug alone. */
  close(): void {
    this.flush();
    this.closed = true;
  }

  private say(change: Change, fields: object): void {
    if (this.closed) {
      this.log.debug(fields, `agent ${change}`);
      return;
    }
    const now = this.now();
    if (now - this.windowStart >= this.options.windowMs) {
      this.flush();
      this.windowStart = now;
      this.lines = 0;
    }
    if (this.lines < this.options.burst) {
      this.lines++;
      this.log.info(fields, `agent ${change}`);
      return;
    }
    this.unnamed[change]++;
    this.log.debug(fields, `agent ${change}`);
    this.summaryTimer ??= setTimeout(() => this.flush(), Math.max(0, this.windowStart + this.options.windowMs - now)).unref();
  }
}
