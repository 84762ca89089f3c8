/**
 * The deployment rules: activating a deploy.json, re-running a deployment,
 * re-deploying an agent's current path, cancelling, an operator ending a
 * deployment whose agent never reported — each stores its change
 * through the repository and announces it on the bus by id (the new
 * deployments with their agents, and the ones they superseded), so hubs and
 * live views deliver from the event. An activation may narrow its spec to
 * agents matching a selector (`on`), leaves agents already on their path
 * alone unless forced, and with a `rollout` creates its deployments Queued in
 * waves for the rollout engine (rollouts/) to release.
 */
import {
  DroverError,
  deploySpecProblems,
  isAgentName,
  isStorePath,
  parseDeadline,
  parseSelector,
  pointer,
  type ActivateRequest,
  type Deployment,
  type ErrorDetail,
  type RolloutSpec,
} from '@drover/protocol';
import { findActivationTargets, findAgentsByName } from '../agents/repository.js';
import type { ActivationTarget } from '../agents/statements.js';
import type { ServerContext } from '../context.js';
import { refreshStaleStatistics } from '../db/planner-statistics.js';
import type { Access } from '../auth/access.js';
import { requireInAgentCache } from './cache-check.js';
import { recordServerDiffs } from './diffs.js';
import { agentMatches } from '../agents/labels.js';
import { assignWaves } from '../rollouts/waves.js';
import { storeActivation, type ActivationPlan } from '../rollouts/service.js';
import { latestPaths } from './rollout-transitions.js';
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

/**
 * More new deployments than this are announced as their activation, not one by one (bus.ts): the event stays small
 * however large the fleet. (Above a live view's rows per flush, http/workspace-events.ts: it re-reads either way.)
 */
const LISTED_DEPLOYMENTS = 1000;

/**
 * Stores the deployments (one activation, with its row when `plan` is given), counts them and announces them — and
 * what they superseded — by id. A rollout's are Queued: the engine takes its first step before this returns.
 */
async function createAndAnnounce(
  ctx: ServerContext,
  access: Access,
  planned: readonly PlannedDeployment[],
  plan?: ActivationPlan,
): Promise<CreatedDeployments> {
  const queued = plan?.rollout != null;
  const created = await createDeployments(ctx.db, {
    workspaceId: access.workspaceId,
    createdBy: access.actor,
    planned,
    queued,
    ...(plan ? { within: (tx: Parameters<typeof storeActivation>[0], id: string) => storeActivation(tx, access, id, plan) } : {}),
  });
  ctx.metrics.deploymentsCreated.inc(created.rows.length);
  const diffed = await recordServerDiffs(ctx, access.workspaceId, created.rows);
  // A large activation is announced whole (bus.ts), a small one deployment by deployment.
  const whole = !queued && created.rows.length > LISTED_DEPLOYMENTS;
  const announced = queued || whole ? [] : created.rows.map((r) => ({ id: r.id, agentId: r.agent_id }));
  // This replica's own agents get theirs from the rows in hand; the event is for the other replicas (agent-hub.ts).
  const delivered = queued
    ? Promise.resolve()
    : ctx.hub
        .deliverFresh(created.rows, diffed, whole ? created.activationId : undefined)
        .catch((err: unknown) => ctx.log.error({ err }, 'delivering deployments failed'));
  await ctx.bus.publish({
    kind: 'deploy',
    deployments: announced,
    superseded: created.superseded,
    ...(whole ? { activation: { id: created.activationId, deployments: created.rows.length } } : {}),
  });
  await delivered;
  // The first wave goes out with the answer; should this step fail, the engine's sweep takes it again.
  if (queued)
    await ctx.rollouts
      .advance(created.activationId)
      .catch((err: unknown) => ctx.log.warn({ err, activation: created.activationId }, 'first rollout step failed'));
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
 * Secrets-only deployments (secrets/deploy.ts): stored and announced like
 * any other, without a closure diff (the profile does not change).
 */
export async function startSecretsOnly(ctx: ServerContext, access: Access, planned: readonly PlannedDeployment[]): Promise<Deployment[]> {
  const created = await createDeployments(ctx.db, { workspaceId: access.workspaceId, createdBy: access.actor, planned });
  ctx.metrics.deploymentsCreated.inc(created.rows.length);
  await ctx.bus.publish({ kind: 'deploy', deployments: created.rows.map((r) => ({ id: r.id, agentId: r.agent_id })), superseded: created.superseded });
  return (
    await getDeployments(
      ctx.db,
      created.rows.map((r) => r.id),
    )
  ).map((v) => toDeploymentApi(v, ctx.publicUrl));
}

export interface ActivateOptions {
  readonly cacheCheck: boolean;
  /** Only the spec's agents whose labels match this selector. */
  readonly on?: string | undefined;
  /** Deploy agents already on their path too. */
  readonly force?: boolean | undefined;
  /** Dry runs: all at once (a dry run has nothing to stage), never switched. */
  readonly dry?: boolean | undefined;
}

export interface Activated {
  readonly created: CreatedDeployments;
  readonly agents: ActivationTarget[];
  /** Agents already on their path: no deployment. */
  readonly unchanged: string[];
}

/**
 * From this many agents an activation's statements are planned from fresh statistics (db/planner-statistics.ts):
 * a stale plan costs it seconds, an analysis a few hundred milliseconds. Below it, one or two statements of 500
 * agents lose at most tens of milliseconds to a stale plan.
 */
const BULK_ACTIVATION = 1000;

/** Refreshes the agents' and deployments' statistics where stale; a failure only costs the better plan, so it is logged. */
async function plannedFromFreshStatistics(ctx: ServerContext): Promise<void> {
  try {
    const analyzed = await refreshStaleStatistics(ctx.db, ['agents', 'deployments']);
    if (analyzed.length > 0) ctx.log.info({ tables: analyzed }, 'analyzed tables with stale planner statistics before a bulk activation');
  } catch (err) {
    ctx.log.warn({ err }, 'could not analyze the agents and deployments tables before a bulk activation; planning from their old statistics');
  }
}

/**
 * Creates one deployment per agent of a deploy.json whose shape the route's
 * schema checked. Every problem — bad names, bad store paths, unknown agents
 * — is reported at once and then nothing is created; so are store paths the
 * agents' cache lacks, unless `cacheCheck` is false. Agents already on
 * their path (and not behind) get none unless `force`. `dry`: dry runs
 * (dry-run.ts says how they live beside real deployments), never staged.
 */
export async function activate(ctx: ServerContext, access: Access, body: ActivateRequest, options: ActivateOptions = { cacheCheck: true }): Promise<Activated> {
  const problems: ErrorDetail[] = deploySpecProblems(body);
  const names = Object.keys(body.agents);
  if (names.length >= BULK_ACTIVATION) await plannedFromFreshStatistics(ctx);
  const found = await findActivationTargets(ctx.db, access.workspaceId, names);
  const byName = new Map(found.map((a) => [a.name, a]));
  // One problem per entry: an entry already reported (bad name, bad path) is not also called unknown.
  const reported = new Set(problems.map((p) => p.path));
  for (const name of names.filter((n) => !byName.has(n) && isAgentName(n) && !reported.has(pointer('agents', n)))) {
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
  const selected = selectAgents(body, byName, options.on);
  // Only a spec with no other problem is checked against the agents' cache (see cache-check.ts).
  // The whole spec when nothing was narrowed away (a spec of 100,000 agents costs ~0.2 s to copy key by key).
  if (options.cacheCheck)
    await requireInAgentCache(
      ctx,
      access,
      selected.length === names.length ? body : { ...body, agents: Object.fromEntries(selected.map((a) => [a.name, body.agents[a.name] ?? ''])) },
    );
  const unchanged = options.force ? new Set<string>() : await unchangedAgents(ctx, selected, body);
  const deploying = selected.filter((a) => !unchanged.has(a.name));
  const rollout = options.dry ? null : ((body.rollout ?? null) as RolloutSpec | null);
  const waveOf = rollout ? assignWaves(deploying, rollout.waves) : null;
  const rollbackScripts = body.rollbackScript ?? null;
  const deadlines = deadlinesOf(body);
  const planned: PlannedDeployment[] = [];
  for (const agent of deploying) {
    const storePath = body.agents[agent.name];
    if (storePath === undefined || !isStorePath(storePath)) continue; // reported above
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
      ...(waveOf ? { wave: waveOf.get(agent.name) ?? 0, rolloutFrom: agent.current_store_path } : {}),
    });
  }
  const plan: ActivationPlan = { selector: options.on ?? null, unchanged: [...unchanged].sort(), rollout, deployments: planned.length };
  return { created: await createAndAnnounce(ctx, access, planned, plan), agents: found, unchanged: plan.unchanged.slice() };
}

/** The spec's agents in the spec's order (what the cache check reports by), narrowed to those matching `on` (refused when none does). */
function selectAgents(body: ActivateRequest, byName: ReadonlyMap<string, ActivationTarget>, on: string | undefined): ActivationTarget[] {
  const inSpec = Object.keys(body.agents).flatMap((name) => {
    const agent = byName.get(name);
    return agent ? [agent] : [];
  });
  if (on === undefined) return inSpec;
  const selector = parseSelector(on);
  const selected = inSpec.filter((a) => agentMatches(a, selector));
  if (selected.length === 0) {
    const message = `no agent of the spec matches the selector ${JSON.stringify(on)} (the spec has ${inSpec.length})`;
    throw new DroverError('DROVER_ERR_INVALID_DEPLOY_SPEC', `nothing was deployed: ${message}`, [
      { path: '/agents', code: 'DROVER_ERR_INVALID_DEPLOY_SPEC', message },
    ]);
  }
  return selected;
}

/** Agents whose current path is the one asked for and whose latest deployment put it there (not behind). */
async function unchangedAgents(ctx: ServerContext, agents: readonly ActivationTarget[], body: ActivateRequest): Promise<Set<string>> {
  const same = agents.filter((a) => a.current_store_path !== null && a.current_store_path === body.agents[a.name]);
  if (same.length === 0) return new Set();
  const latest = await latestPaths(
    ctx.db,
    same.map((a) => a.id),
  );
  return new Set(same.filter((a) => (latest.get(a.id) ?? a.current_store_path) === a.current_store_path).map((a) => a.name));
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
  const plan = rerunPlan(row);
  if (plan.secretsOnly) {
    // A secrets-only re-run writes today's set on the path the agent runs now, not the one it ran then.
    const [agent] = await findAgentsByName(ctx.db, access.workspaceId, [row.agent_name]);
    const current = agent?.current_store_path ?? null;
    const [again] = await startSecretsOnly(ctx, access, [{ ...plan, storePath: current !== null && isStorePath(current) ? current : plan.storePath }]);
    if (!again) throw new DroverError('DROVER_ERR_INTERNAL', `re-running ${id} created nothing`);
    return again;
  }
  const [deployment] = await startDeployments(ctx, access, [plan]);
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
