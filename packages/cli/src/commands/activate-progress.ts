/**
 * While `drover activate` follows its deployments: every interval (60 s
 * unless `--progress-interval`), one line for each agent whose deployment
 * has not started because the agent is offline — who, and offline since
 * when — so a CI log shows why it waits. Two requests per interval however
 * many agents the activation has; at most MAX_LINES agents are named each
 * time.
 */
import { AgentListSchema, DeploymentListSchema, DroverError, formatDuration, parseDuration, schemaDecoder, type Agent } from '@drover/protocol';
import type { ApiClient } from '../client.js';
import { info } from '../output.js';

const MAX_LINES = 20;
const decodeDeployments = schemaDecoder(DeploymentListSchema);
const decodeAgents = schemaDecoder(AgentListSchema);

/** `--progress-interval` in milliseconds (default 60 s). */
export function progressIntervalMs(flag: string | undefined): number {
  if (flag === undefined) return 60_000;
  const ms = parseDuration(flag);
  if (ms === null || ms <= 0) throw new DroverError('DROVER_ERR_VALIDATION', `--progress-interval ${JSON.stringify(flag)} is not a duration (e.g. 30s, 5m)`);
  return ms;
}

function waitingLine(agent: Agent, now: number): string {
  if (!agent.lastSeenAt) return 'still waiting: the agent has not connected yet';
  return `still waiting: the agent is offline since ${agent.lastSeenAt} (${formatDuration(now - Date.parse(agent.lastSeenAt))} ago)`;
}

async function reportOnce(api: ApiClient, activationId: string, say: (agent: string, text: string) => void): Promise<void> {
  const { deployments } = await api.request('GET', `/activations/${activationId}`, undefined, decodeDeployments);
  const pending = new Set(deployments.filter((d) => d.status === 'Pending').map((d) => d.agent));
  if (pending.size === 0) return;
  const { agents } = await api.request('GET', '/agents?status=offline', undefined, decodeAgents);
  const waiting = agents.filter((a) => pending.has(a.name));
  const now = Date.now();
  for (const agent of waiting.slice(0, MAX_LINES)) say(agent.name, waitingLine(agent, now));
  if (waiting.length > MAX_LINES) info(`… and ${waiting.length - MAX_LINES} more offline agents still waiting`);
}

/** Starts the progress lines; the returned function stops them. A failed check is said once per interval and retried at the next. */
export function reportOfflineAgents(api: ApiClient, activationId: string, intervalMs: number, say: (agent: string, text: string) => void): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    reportOnce(api, activationId, say)
      .catch((err: unknown) => info(`could not check which agents are still offline: ${(err as Error).message}`))
      .finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
