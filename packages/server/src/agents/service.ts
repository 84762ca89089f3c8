/**
 * Admin rules on agents: changing their labels (the admin's set, over what
 * the agent declares) and decommissioning one — it leaves the lists and the
 * fleet counts, its bound tokens are revoked and its connection closes on
 * every replica; a deployment it has not started is cancelled (nothing
 * would run it), its deployments stay readable. It comes back only by
 * connecting again with a valid token.
 */
import { DroverError, labelsProblems, type Agent } from '@drover/protocol';
import type { Access } from '../auth/access.js';
import { revokeAgentTokens } from '../auth/tokens.js';
import type { ServerContext } from '../context.js';
import { cancel } from '../deployments/service.js';
import { effectiveLabels, patchedAdminLabels, type AdminLabels } from './labels.js';
import { listAgents, markRemoved, updateAdminLabels } from './repository.js';

function notFound(access: Access, name: string): DroverError {
  return new DroverError('DROVER_ERR_AGENT_NOT_FOUND', `agent ${JSON.stringify(name)} does not exist in workspace ${access.workspaceName}`);
}

/** One agent as the API shows it (not a decommissioned one). */
export async function getAgent(ctx: ServerContext, access: Access, name: string): Promise<Agent> {
  const { agents } = await listAgents(ctx.db, { id: access.workspaceId, name: access.workspaceName }, ctx.presence, { name });
  if (!agents[0]) throw notFound(access, name);
  return agents[0];
}

/**
 * `replace`: the admin's changes become exactly `labels`; `merge`: they are
 * patched in (a value sets, null removes). Every problem of the result is
 * reported before anything is stored.
 */
export async function changeAgentLabels(ctx: ServerContext, access: Access, name: string, labels: AdminLabels, mode: 'replace' | 'merge'): Promise<Agent> {
  const set = Object.fromEntries(Object.entries(labels).filter((e): e is [string, string] => e[1] !== null));
  const problems = labelsProblems(set);
  const found = await updateAdminLabels(ctx.db, access.workspaceId, name, (sets) => {
    const admin = mode === 'replace' ? labels : patchedAdminLabels(sets, labels);
    problems.push(...labelsProblems(effectiveLabels({ agent: sets.agent, admin })).filter((p) => !problems.includes(p)));
    if (problems.length > 0) throw new DroverError('DROVER_ERR_INVALID_LABEL', problems.join('; '));
    return admin;
  });
  if (!found) throw notFound(access, name);
  const agent = await getAgent(ctx, access, name);
  await ctx.bus.publish({ kind: 'agents-changed', agentIds: [agent.id] });
  return agent;
}

/** Decommissions the agent: removed from lists and counts, its bound tokens revoked, its connection closed. */
export async function decommissionAgent(ctx: ServerContext, access: Access, name: string): Promise<void> {
  const latest = (await getAgent(ctx, access, name)).lastDeployment;
  const agentId = await markRemoved(ctx.db, access.workspaceId, name);
  if (!agentId) throw notFound(access, name);
  // Only the latest deployment can still be Pending (older ones were superseded); a guarded cancel, so one that just started is left to run.
  if (latest?.status === 'Pending') {
    await cancel(ctx, access, latest.id).catch((err: unknown) => {
      if (!(err instanceof DroverError && err.code === 'DROVER_ERR_NOT_CANCELLABLE')) throw err;
    });
  }
  for (const tokenId of await revokeAgentTokens(ctx.db, access.workspaceId, name)) await ctx.bus.publish({ kind: 'token-revoked', tokenId });
  await ctx.bus.publish({ kind: 'agent-removed', agentId });
  await ctx.bus.publish({ kind: 'agents-changed', agentIds: [agentId] });
}
