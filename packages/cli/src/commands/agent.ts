/** `drover agent NAME`: keep this machine's profile deployed. */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { DroverError, parseAgentName, parseDuration } from '@drover/protocol';

export interface AgentFlags {
  server?: string;
  profile: string;
  stateDir?: string;
  tokenFile?: string;
  logLevel?: string;
  authRetry?: string;
  runnerScope?: string;
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
  const { Agent, RUNNER_SCOPE_MODES } = await import('@drover/agent');
  const runnerScope = RUNNER_SCOPE_MODES.find((mode) => mode === (flags.runnerScope ?? 'auto'));
  if (runnerScope === undefined) {
    throw new DroverError('DROVER_ERR_CONFIG', `--runner-scope ${JSON.stringify(flags.runnerScope)} must be one of: ${RUNNER_SCOPE_MODES.join(', ')}`);
  }
  const log = pino({ name: 'drover-agent', level: flags.logLevel ?? process.env['DROVER_LOG_LEVEL'] ?? 'info' });
  const authRetryMs = flags.authRetry === undefined ? undefined : parseDuration(flags.authRetry);
  if (authRetryMs === null || (authRetryMs !== undefined && authRetryMs < 1000)) {
    throw new DroverError('DROVER_ERR_CONFIG', `--auth-retry ${JSON.stringify(flags.authRetry)} must be a duration of at least 1s (e.g. 60s)`);
  }
  const agent = new Agent({ name: agentName, server, token, profile: flags.profile, stateDir: flags.stateDir, log, authRetryMs, runnerScope });
  agent.start();
  const stop = (signal: string) => {
    log.info({ signal }, 'agent stopping; running deployments continue in their own process');
    agent.stop();
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
