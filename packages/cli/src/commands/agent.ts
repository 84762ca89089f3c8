/** `drover agent NAME`: keep this machine's profile deployed. */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { DroverError, parseAgentName, parseDeadline, parseDuration, type DeadlineName } from '@drover/protocol';

export interface AgentFlags {
  server?: string;
  profile: string;
  stateDir?: string;
  tokenFile?: string;
  logLevel?: string;
  authRetry?: string;
  activationTimeout?: string;
  confirmTimeout?: string;
  storeReserve?: string;
}

/** A deadline flag in milliseconds; undefined when not given. */
function deadlineFlag(name: DeadlineName, flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDeadline(name, value);
  if (typeof ms === 'string') throw new DroverError('DROVER_ERR_CONFIG', `${flag} ${ms}`);
  return ms;
}

const sizeUnits: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `--store-reserve`: bytes, or a number with K/M/G/T (binary units, optional "i"/"B"). */
function sizeFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
  const scale = m ? sizeUnits[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || scale === undefined) throw new DroverError('DROVER_ERR_CONFIG', `--store-reserve ${JSON.stringify(value)} is not a size (e.g. 500M, 2G, or bytes)`);
  return Math.round(Number(m[1]) * scale);
}

/**
 * Where the token comes from: --token-file (read again before every
 * connection attempt, so replacing the file fixes a revoked token without a
 * restart) or DROVER_AGENT_TOKEN.
 */
function tokenSource(flags: AgentFlags): () => string {
  const file = flags.tokenFile;
  if (file) {
    const read = () => {
      try {
        return readFileSync(file, 'utf8').trim();
      } catch (err) {
        throw new DroverError('DROVER_ERR_CONFIG', `cannot read --token-file ${file}: ${(err as Error).message}`);
      }
    };
    let last = read();
    return () => {
      try {
        last = read();
      } catch {
        /* keep the last good token; the error was reported at start-up */
      }
      return last;
    };
  }
  const token = process.env['DROVER_AGENT_TOKEN']?.trim();
  if (!token)
    throw new DroverError(
      'DROVER_ERR_UNAUTHORIZED',
      'no agent token: set DROVER_AGENT_TOKEN or pass --token-file (create one with `drover token create --kind agent`)',
    );
  // Children (deployment runners) get the token explicitly; nothing else inherits it.
  delete process.env['DROVER_AGENT_TOKEN'];
  return () => token;
}

export async function agentCommand(name: string, flags: AgentFlags): Promise<void> {
  const agentName = parseAgentName(name);
  const server = flags.server ?? process.env['DROVER_SERVER'];
  if (!server) throw new DroverError('DROVER_ERR_CONFIG', 'no server: pass --server URL or set DROVER_SERVER');
  const token = tokenSource(flags);
  const { Agent } = await import('@drover/agent');
  const log = pino({ name: 'drover-agent', level: flags.logLevel ?? process.env['DROVER_LOG_LEVEL'] ?? 'info' });
  const authRetryMs = flags.authRetry === undefined ? undefined : parseDuration(flags.authRetry);
  if (authRetryMs === null || (authRetryMs !== undefined && authRetryMs < 1000)) {
    throw new DroverError('DROVER_ERR_CONFIG', `--auth-retry ${JSON.stringify(flags.authRetry)} must be a duration of at least 1s (e.g. 60s)`);
  }
  const agent = new Agent({
    name: agentName,
    server,
    token,
    profile: flags.profile,
    stateDir: flags.stateDir,
    log,
    authRetryMs,
    activationTimeoutMs: deadlineFlag('activationTimeout', '--activation-timeout', flags.activationTimeout),
    confirmTimeoutMs: deadlineFlag('confirmTimeout', '--confirm-timeout', flags.confirmTimeout),
    storeReserveBytes: sizeFlag(flags.storeReserve),
  });
  agent.start();
  const stop = (signal: string) => {
    log.info({ signal }, 'agent stopping; running deployments continue in their own process');
    agent.stop();
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
