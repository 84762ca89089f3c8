/** `drover agent NAME`: keep this machine's profile deployed. */
import { pino } from 'pino';
import { DroverError, parseAgentName, parseDuration } from '@drover/protocol';
import { agentTokenSource } from '../agent-token.js';

export interface AgentFlags {
  server?: string;
  profile: string;
  stateDir?: string;
  tokenFile?: string;
  logLevel?: string;
  authRetry?: string;
}

export async function agentCommand(name: string, flags: AgentFlags): Promise<void> {
  const agentName = parseAgentName(name);
  const server = flags.server ?? process.env['DROVER_SERVER'];
  if (!server) throw new DroverError('DROVER_ERR_CONFIG', 'no server: pass --server URL or set DROVER_SERVER');
  const token = agentTokenSource(flags.tokenFile);
  const { Agent } = await import('@drover/agent');
  const log = pino({ name: 'drover-agent', level: flags.logLevel ?? process.env['DROVER_LOG_LEVEL'] ?? 'info' });
  const authRetryMs = flags.authRetry === undefined ? undefined : parseDuration(flags.authRetry);
  if (authRetryMs === null || (authRetryMs !== undefined && authRetryMs < 1000)) {
    throw new DroverError('DROVER_ERR_CONFIG', `--auth-retry ${JSON.stringify(flags.authRetry)} must be a duration of at least 1s (e.g. 60s)`);
  }
  const agent = new Agent({ name: agentName, server, token, profile: flags.profile, stateDir: flags.stateDir, log, authRetryMs });
  agent.start();
  const stop = (signal: string) => {
    log.info({ signal }, 'agent stopping; running deployments continue in their own process');
    agent.stop();
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
