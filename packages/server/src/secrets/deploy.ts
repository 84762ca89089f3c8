/**
 * Getting a changed secret set to the agents it affects: one secrets-only
 * deployment per agent (the agent rewrites its secrets, the profile is not
 * touched; its store path is the agent's current one), with the same logs
 * and statuses as any deployment. An agent that already has a Pending real
 * deployment gets none — that deployment carries the set, since every order
 * holds the agent's complete set as it is when sent — and neither does an
 * agent nothing was ever deployed to (its first deployment carries it).
 */
import { isStorePath, type Deployment } from '@drover/protocol';
import type { Access } from '../auth/access.js';
import type { ServerContext } from '../context.js';
import { chunks } from '../db/chunks.js';
import { startSecretsOnly } from '../deployments/service.js';
import type { PlannedDeployment } from '../deployments/repository.js';

export interface SecretsDelivery {
  readonly deployments: Deployment[];
  /** Agent names that get the change with their next deployment instead. */
  readonly withNextDeployment: string[];
}

/** Queues the secrets-only deployments for these agents (`deploy: false`: none, all wait for their next deployment). */
export async function deliverSecrets(ctx: ServerContext, access: Access, agentIds: readonly string[], deploy: boolean): Promise<SecretsDelivery> {
  const agents = [];
  const pendingReal = new Set<string>();
  for (const part of chunks([...new Set(agentIds)])) {
    agents.push(
      ...(await ctx.db
        .selectFrom('agents')
        .select(['id', 'name', 'current_store_path'])
        .where('id', 'in', part)
        .where('workspace_id', '=', access.workspaceId)
        .where('removed_at', 'is', null)
        .execute()),
    );
    const pending = await ctx.db
      .selectFrom('deployments')
      .select('agent_id')
      .where('agent_id', 'in', part)
      .where('status', '=', 'Pending')
      .where('dry', '=', 0)
      .where('secrets_only', '=', 0)
      .execute();
    for (const p of pending) pendingReal.add(p.agent_id);
  }
  const planned: PlannedDeployment[] = [];
  const withNextDeployment: string[] = [];
  for (const a of agents) {
    const current = a.current_store_path;
    if (!deploy || pendingReal.has(a.id) || current === null || !isStorePath(current)) withNextDeployment.push(a.name);
    else planned.push({ agentId: a.id, storePath: current, rollbackScript: null, rollbackScripts: null, secretsOnly: true });
  }
  const deployments = planned.length > 0 ? await startSecretsOnly(ctx, access, planned) : [];
  return { deployments, withNextDeployment: withNextDeployment.sort() };
}
