/**
 * The process logger. Library code never prints; it logs through pino child
 * loggers. Authorization headers and tokens are redacted wherever they appear.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export function createLogger(level: LevelWithSilent = 'info', name = 'drover'): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'token', '*.token'], censor: '[redacted]' },
  });
}
