/**
 * `drover agent NAME`: keep this machine's profile deployed.
 *
 * Before connecting it checks its state directory (fatal: exit 78 with what
 * is wrong and the fix) and what it needs to deploy (reported to the server;
 * see @drover/agent self-check). With `--bootstrap` it exits 0 once the
 * service-managed agent of the same name has connected in its place.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { DroverError, parseAgentName, parseDuration } from '@drover/protocol';
import { reportError } from '../output.js';

export interface AgentFlags {
  server?: string;
  profile: string;
  stateDir?: string;
  tokenFile?: string;
  logLevel?: string;
  authRetry?: string;
  bootstrap?: boolean;
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

export async function agentCommand(name: string, flags: AgentFlags): Promise<number | undefined> {
  const agentName = parseAgentName(name);
  const server = flags.server ?? process.env['DROVER_SERVER'];
  if (!server) throw new DroverError('DROVER_ERR_CONFIG', 'no server: pass --server URL or set DROVER_SERVER');
  const token = tokenSource(flags);
  const { Agent, checkStateDir, defaultStateDir, EXIT_SETUP } = await import('@drover/agent');
  const stateDir = flags.stateDir ?? defaultStateDir(agentName);
  const unwritable = checkStateDir(stateDir, flags.stateDir !== undefined);
  if (unwritable !== null) {
    reportError(new DroverError('DROVER_ERR_AGENT_SETUP', unwritable));
    return EXIT_SETUP;
  }
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
    stateDir,
    log,
    authRetryMs,
    bootstrap: flags.bootstrap === true,
    onTakenOver: (reason) => {
      log.info({ reason }, 'bootstrap done: the agent of this name connected in its place (it reports any deployment still open); exiting');
      setTimeout(() => process.exit(0), 100).unref();
    },
  });
  agent.start();
  const stop = (signal: string) => {
    log.info({ signal }, 'agent stopping; running deployments continue in their own process');
    agent.stop();
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return undefined;
}
