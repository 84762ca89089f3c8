/**
 * The process logger. Library code never prints; it logs through pino child
 * loggers. Authorization headers and tokens are redacted wherever they appear.
 *
 * Lines go to stdout asynchronously: a line is written at once when no write
 * is in flight, and the lines logged while one is in flight go out together
 * in the next write. A fleet reconnecting logs a line per agent; written one
 * synchronous `write(2)` each, to journald's or a supervisor's pipe, that
 * cost the server ~10 % of its CPU during registration (bench/README.md), and
 * a reader that falls behind stalled the whole event loop. pino flushes what
 * is buffered synchronously when the process exits (also on an uncaught
 * exception); only a SIGKILL can lose the lines of the write in flight.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export function createLogger(level: LevelWithSilent = 'info', name = 'drover'): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: ['req.headers.authorization', 'headers.authorization', 'token', '*.token'], censor: '[redacted]' },
    },
    pino.destination({ dest: 1, sync: false }),
  );
}

/** A warning said at most once per `everyMs`: `due()` asks, `said()` records that it was said. */
export class WarningThrottle {
  private saidAt = -Infinity;

  constructor(private readonly everyMs: number) {}

  due(now = Date.now()): boolean {
    return now - this.saidAt >= this.everyMs;
  }

  said(now = Date.now()): void {
    this.saidAt = now;
  }
}
