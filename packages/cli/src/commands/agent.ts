/** `drover agent NAME`: keep this machine's profile deployed. */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { DroverError, parseAgentName } from '@drover/protocol';

export interface AgentFlags {
  server?: string;
  profile: string;
  stateDir?: string;
  tokenFile?: string;
  logLevel?: string;
}

function readToken(flags: AgentFlags): string {
  if (flags.tokenFile) {
    try {
      return readFileSync(flags.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new DroverError('DROVER_ERR_CONFIG', `cannot read --token-file ${flags.tokenFile}: ${(err as Error).message}`);
    }
  }
  const token = process.env['DROVER_AGENT_TOKEN'];
  if (!token) throw new DroverError('DROVER_ERR_UNAUTHORIZED', 'no agent token: set DROVER_AGENT_TOKEN or pass --token-file (create one with `drover token create --kind agent`)');
  return token.trim();
}

export async function agentCommand(name: string, flags: AgentFlags): Promise<void> {
  const agentName = parseAgentName(name);
  const server = flags.server ?? process.env['DROVER_SERVER'];
  if (!server) throw new DroverError('DROVER_ERR_CONFIG', 'no server: pass --server URL or set DROVER_SERVER');
  const token = readToken(flags);
  const { Agent } = await import('@drover/agent');
  const log = pino({ name: 'drover-agent', level: flags.logLevel ?? process.env['DROVER_LOG_LEVEL'] ?? 'info' });
  const agent = new Agent({ name: agentName, server, token, profile: flags.profile, stateDir: flags.stateDir, log });
  agent.start();
  const stop = (signal: string) => {
    log.info({ signal }, 'agent stopping; running deployments continue in their own process');
    agent.stop();
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
