/**
 * What a Cachix agent's deployment subprocess reports, recorded through the
 * same guarded transitions as Drover's own agents (deployments/repository.ts):
 * Pending → InProgress, the closure size, the outcome (which also sets what
 * the agent runs), each announced on the bus by id. After an outcome the
 * agent's newest Pending deployment is announced again, so whichever
 * replica holds its `/ws` sends it: a subprocess that found the agent's lock
 * busy exits without a word, and this is how that deployment still runs.
 */
import type { DeploymentFinishedMessage } from '@drover/protocol';
import type { ServerContext } from '../context.js';
import { getDeployment, markFinished, markStarted, newestPendingOrders, setClosureSize } from '../deployments/repository.js';
import type { SubprocessReport } from './wire.js';

/** The agent a Cachix socket speaks for. */
export interface CachixAgent {
  readonly id: string;
  readonly name: string;
  readonly workspaceId: string;
}

/** The reason stored with a failure a Cachix agent reports (its protocol carries none; its log says why). */
const REPORTED_FAILURE = 'the Cachix agent reported that the deployment failed; its log says why';

export async function recordReport(ctx: ServerContext, agent: CachixAgent, report: SubprocessReport): Promise<void> {
  if (report.kind === 'started') {
    // The second DeploymentStarted (with the closure size) finds it InProgress already: only the size is stored.
    await markStarted(ctx.db, agent.id, report.id, report.time);
    if (report.closureSize !== null) await setClosureSize(ctx.db, agent.id, report.id, report.closureSize);
    await ctx.bus.publish({ kind: 'deployment-changed', deploymentIds: [report.id] });
    return;
  }
  const deployment = await getDeployment(ctx.db, agent.workspaceId, report.id).catch(() => null);
  if (deployment?.agent_id !== agent.id) {
    ctx.log.warn({ agent: agent.name, deployment: report.id }, 'a Cachix agent reported a deployment that is not its own; ignored');
    return;
  }
  const succeeded = report.hasSucceeded;
  await recordOutcome(ctx, agent, {
    type: 'deployment.finished',
    id: report.id,
    time: report.time,
    status: succeeded ? 'Succeeded' : 'Failed',
    reason: succeeded ? null : REPORTED_FAILURE,
    // A failed Cachix deployment rolled back to what ran before (or never switched).
    activePath: succeeded ? deployment.store_path : null,
  });
}

/** An order the Cachix agent cannot carry out (never sent to it): Failed now, with the reason. */
export function refuseOrder(ctx: ServerContext, agent: CachixAgent, orderId: string, reason: string): void {
  const outcome = { type: 'deployment.finished', id: orderId, time: new Date().toISOString(), status: 'Failed', reason, activePath: null } as const;
  recordOutcome(ctx, agent, outcome).catch((err: unknown) => ctx.log.warn({ err, deployment: orderId }, 'could not record a refused Cachix order'));
}

/** Records an outcome as the hub records a Drover agent's, then hands out the agent's next Pending deployment. */
async function recordOutcome(ctx: ServerContext, agent: CachixAgent, outcome: DeploymentFinishedMessage): Promise<void> {
  const recorded = await markFinished(ctx.db, agent.id, outcome);
  if (recorded !== null) ctx.metrics.finished(outcome.status);
  ctx.log.info({ agent: agent.name, deployment: outcome.id, status: outcome.status }, 'Cachix deployment finished');
  await ctx.bus.publish({ kind: 'deployment-changed', deploymentIds: [outcome.id] });
  const next = (await newestPendingOrders(ctx.db, [agent.id])).get(agent.id);
  if (next) await ctx.bus.publish({ kind: 'deploy', deployments: [{ id: next.order.id, agentId: agent.id }], superseded: [] });
}
