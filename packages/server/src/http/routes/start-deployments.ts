/**
 * Creating deployments outside deploy.json (re-run, re-deploy): store them,
 * count them, wake the agents, and answer with the new rows. Activation does
 * the same for many agents at once.
 */
import type { Deployment } from '@drover/protocol';
import type { ServerContext } from '../../context.js';
import type { DeploymentRow } from '../../db/schema.js';
import { createDeployments, deploymentJson, getDeployments, type PlannedDeployment } from '../../deployments/repository.js';
import type { Access } from '../auth.js';

/** Stores the deployments (one activation), counts them and tells the agents' replicas. */
export async function createAndAnnounce(ctx: ServerContext, access: Access, planned: readonly PlannedDeployment[]): Promise<{ activationId: string; rows: DeploymentRow[] }> {
  const created = await createDeployments(ctx.db, { workspaceId: access.workspaceId, createdBy: access.actor, planned });
  ctx.metrics.deploymentsCreated.inc(created.rows.length);
  await ctx.bus.publish({ kind: 'deploy', agentIds: planned.map((p) => p.agentId) });
  return created;
}

export async function startDeployments(ctx: ServerContext, access: Access, planned: readonly PlannedDeployment[]): Promise<Deployment[]> {
  const { rows } = await createAndAnnounce(ctx, access, planned);
  const views = await getDeployments(ctx.db, rows.map((r) => r.id));
  return views.map((v) => deploymentJson(v, ctx.publicUrl));
}
