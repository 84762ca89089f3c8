/**
 * The deployment rules: activating a deploy.json, re-running a deployment,
 * re-deploying an agent's current path, cancelling, an operator ending a
 * deployment whose agent never reported — each stores its change
 * through the repository and announces it on the bus by id (the new
 * deployments with their agents, and the ones they superseded), so hubs and
 * live views deliver from the event.
 */
import {
  DroverError,
  deploySpecProblems,
  isAgentName,
  isStorePath,
  parseDeadline,
  pointer,
  type ActivateRequest,
  type Deployment,
  type ErrorDetail,
} from '@drover/protocol';
import { findAgentsByName, type AgentSeen } from '../agents/repository.js';
import type { ServerContext } from '../context.js';
import type { AgentRow } from '../db/schema.js';
import type { Access } from '../auth/access.js';
import { requireInAgentCache } from './cache-check.js';
import { recordServerDiffs } from './diffs.js';
import {
  cancelDeployment,
  createDeployments,
  endByOperator,
  getDeployment,
  getDeployments,
  latestDeploymentOfPath,
  rerunPlan,
  toDeploymentApi,
  type CreatedDeployments,
  type Deadlines,
  type PlannedDeployment,
} from './repository.js';

/** Stores the deployments (one activation), counts them and announces them — and what they superseded — by id. */
async function createAndAnnounce(ctx: ServerContext, access: Access, planned: readonly PlannedDeployment[]): Promise<CreatedDeployments> {
  const created = await createDeployments(ctx.db, { workspaceId: access.workspaceId, createdBy: access.actor, planned });
  ctx.metrics.deploymentsCreated.inc(created.rows.length);
  await recordServerDiffs(ctx, access.workspaceId, created.rows);
  await ctx.bus.publish({ kind: 'deploy', deployments: created.rows.map((r) => ({ id: r.id, agentId: r.agent_id })), superseded: created.superseded });
  return created;
}

async function startDeployments(ctx: ServerContext, access: Access, planned: readonly PlannedDeployment[]): Promise<Deployment[]> {
  const { rows } = await createAndAnnounce(ctx, access, planned);
  return (
    await getDeployments(
      ctx.db,
      rows.map((r) => r.id),
    )
  ).map((v) => toDeploymentApi(v, ctx.publicUrl));
}

/**
 * Creates one deployment per agent of a deploy.json whose shape the route's
 * schema checked. Every problem — bad names, bad store paths, unknown agents
 * — is reported at once and then nothing is created; so are store paths the
 * agents' cache lacks, unless `cacheCheck` is false. `dry`: dry runs
 * (dry-run.ts says how they live beside real deployments).
 */
export async function activate(
  ctx: ServerContext,
  access: Access,
  body: ActivateRequest,
  options: { cacheCheck: boolean; dry?: boolean } = { cacheCheck: true },
): Promise<{ created: CreatedDeployments; agents: (AgentRow & AgentSeen)[] }> {
  const problems: ErrorDetail[] = deploySpecProblems(body);
  const names = Object.keys(body.agents);
  const found = await findAgentsByName(ctx.db, access.workspaceId, names);
  const byName = new Map(found.map((a) => [a.name, a]));
  // One problem per entry: an entry already reported (bad name, bad path) is not also called unknown.
  const reported = new Set(problems.map((p) => p.path));
  for (const name of names.filter((n) => isAgentName(n) && !byName.has(n) && !reported.has(pointer('agents', n)))) {
    problems.push({
      path: pointer('agents', name),
      code: 'DROVER_ERR_UNKNOWN_AGENT',
      message: `unknown agent ${JSON.stringify(name)} in workspace ${access.workspaceName}`,
    });
  }
  if (problems.length > 0) {
    const onlyUnknown = problems.every((p) => p.code === 'DROVER_ERR_UNKNOWN_AGENT');
    throw new DroverError(
      onlyUnknown ? 'DROVER_ERR_UNKNOWN_AGENT' : 'DROVER_ERR_INVALID_DEPLOY_SPEC',
      `nothing was deployed: ${problems.map((p) => p.message).join('; ')}`,
      problems,
    );
  }
  // Only a spec with no other problem is checked against the agents' cache (see cache-check.ts).
  if (options.cacheCheck) await requireInAgentCache(ctx, access, body);
  const rollbackScripts = body.rollbackScript ?? null;
  const deadlines = deadlinesOf(body);
  const planned: PlannedDeployment[] = [];
  for (const [name, storePath] of Object.entries(body.agents)) {
    const agent = byName.get(name);
    if (!agent || !isStorePath(storePath)) continue; // both reported above
    // The rollbackScript is picked by the agent's system; an agent that never connected
    // has none yet, so its deployment keeps the whole map until it says hello.
    const rollback = agent.system ? (rollbackScripts?.[agent.system] ?? null) : null;
    planned.push({
      agentId: agent.id,
      storePath,
      rollbackScript: rollback !== null && isStorePath(rollback) ? rollback : null,
      rollbackScripts: !agent.system ? rollbackScripts : null,
      deadlines,
      ...(options.dry ? { dry: true } : {}),
    });
  }
  return { created: await createAndAnnounce(ctx, access, planned), agents: found };
}

/** The deploy's own deadlines in ms (deploySpecProblems checked them). */
function deadlinesOf(body: ActivateRequest): Deadlines {
  const ms = (value: number | string | null) => (typeof value === 'number' ? value : null);
  return {
    activationTimeoutMs: ms(body.activationTimeout ? parseDeadline('activationTimeout', body.activationTimeout) : null),
    confirmTimeoutMs: ms(body.confirmTimeout ? parseDeadline('confirmTimeout', body.confirmTimeout) : null),
  };
}

/**
 * The /activate body validator: a body that is not shaped like a deploy.json
 * is refused with every problem deploySpecProblems names.
 */
export function deploySpecShapeError(body: unknown, shapeOk: boolean): DroverError | null {
  if (shapeOk) return null;
  const problems = deploySpecProblems(body);
  return new DroverError(
    'DROVER_ERR_INVALID_DEPLOY_SPEC',
    problems.length > 0 ? `nothing was deployed: ${problems.map((p) => p.message).join('; ')}` : 'the body is not a deploy spec',
    problems,
  );
}

/** Deploys the same store path to the same agent again, as a new deployment. */
export async function rerun(ctx: ServerContext, access: Access, id: string): Promise<Deployment> {
  const row = await getDeployment(ctx.db, access.workspaceId, id);
  const [deployment] = await startDeployments(ctx, access, [rerunPlan(row)]);
  if (!deployment) throw new DroverError('DROVER_ERR_INTERNAL', `re-running ${id} created nothing`);
  return deployment;
}

/** Deploys an agent's current store path again, with the rollbackScript it was deployed with. */
export async function redeployAgent(ctx: ServerContext, access: Access, name: string): Promise<Deployment> {
  const [agent] = await findAgentsByName(ctx.db, access.workspaceId, [name]);
  if (!agent) throw new DroverError('DROVER_ERR_AGENT_NOT_FOUND', `agent ${JSON.stringify(name)} does not exist in workspace ${access.workspaceName}`);
  const current = agent.current_store_path;
  if (!current || !isStorePath(current)) throw new DroverError('DROVER_ERR_NOTHING_DEPLOYED', `agent ${agent.name} has no current store path to re-deploy`);
  const previous = await latestDeploymentOfPath(ctx.db, agent.id, current);
  const rollback = previous?.rollback_script ?? null;
  const [deployment] = await startDeployments(ctx, access, [
    { agentId: agent.id, storePath: current, rollbackScript: rollback !== null && isStorePath(rollback) ? rollback : null, rollbackScripts: null },
  ]);
  if (!deployment) throw new DroverError('DROVER_ERR_INTERNAL', `re-deploying ${agent.name} created nothing`);
  return deployment;
}

/**
 * A user's cancel: Pending ones end now and are announced; InProgress ones
 * are asked to stop (`requested`), and the agent reports the outcome.
 */
export async function cancel(ctx: ServerContext, access: Access, id: string): Promise<{ deployment: Deployment; requested: boolean }> {
  const { row, requested } = await cancelDeployment(ctx.db, access.workspaceId, id, access.actor);
  await ctx.bus.publish({ kind: 'cancel', agentId: row.agent_id, deploymentId: row.id });
  if (!requested) await ctx.bus.publish({ kind: 'deployment-changed', deploymentIds: [row.id] });
  return { deployment: toDeploymentApi(row, ctx.publicUrl), requested };
}

/**
 * An operator ends an InProgress deployment whose agent never came back
 * (cancel only asks the agent): it becomes Failed with who and why, and
 * can be re-run. A connected agent is still asked to stop; its report, if
 * one comes, replaces the operator's mark.
 */
export async function endInProgress(ctx: ServerContext, access: Access, id: string, reason: string): Promise<Deployment> {
  const row = await endByOperator(ctx.db, access.workspaceId, id, access.actor, reason);
  await ctx.bus.publish({ kind: 'cancel', agentId: row.agent_id, deploymentId: row.id });
  await ctx.bus.publish({ kind: 'deployment-changed', deploymentIds: [row.id] });
  return toDeploymentApi(row, ctx.publicUrl);
}
