/**
 * Staged rollouts as users see them: the plan an activation stores (waves,
 * failure budget, the `on` selector, unchanged agents), the activation view
 * (`GET …/activations/:id`), and pause, resume and abort. The engine
 * (engine.ts) moves the rollouts; these rules only change their state, each
 * through a guarded transition.
 */
import {
  DEPLOYMENT_STATUSES,
  DroverError,
  failureAllowance,
  isUuid,
  pauseMs,
  waveLabel,
  type ActivationView,
  type Actor,
  type DeploymentStatus,
  type RolloutSpec,
} from '@drover/protocol';
import type { Kysely } from 'kysely';
import type { Access } from '../auth/access.js';
import type { ServerContext } from '../context.js';
import type { Database } from '../db/schema.js';
import { nowIso } from '../db/time.js';
import { activationDeployments, deploymentUrl, toDeploymentApi, type DeploymentView } from '../deployments/repository.js';
import { holdQueued } from '../deployments/rollout-transitions.js';
import { notARollout, rolloutSpecOf } from './engine.js';
import { changeRollout, findActivation, insertActivation, type RolloutRow, type RolloutState } from './repository.js';

/** The page of an activation in the web UI (what `activate` prints for the whole of it). */
export function activationUrl(publicUrl: string, workspace: string, id: string): string {
  return deploymentUrl(publicUrl, workspace, id).replace(/\/deployments\/([^/]+)$/, '/activations/$1');
}

export interface ActivationPlan {
  readonly selector: string | null;
  readonly unchanged: readonly string[];
  readonly rollout: RolloutSpec | null;
  /** How many deployments the activation creates (a percentage budget counts against them). */
  readonly deployments: number;
}

/** Stores an activation's row (inside the transaction that creates its deployments). */
export async function storeActivation(tx: Kysely<Database>, access: Access, activationId: string, plan: ActivationPlan): Promise<void> {
  const { rollout } = plan;
  await insertActivation(tx, {
    activation_id: activationId,
    workspace_id: access.workspaceId,
    created_at: nowIso(),
    created_by: JSON.stringify(access.actor satisfies Actor),
    selector: plan.selector,
    unchanged: JSON.stringify(plan.unchanged),
    state: rollout ? 'running' : null,
    spec: rollout ? JSON.stringify(rollout) : null,
    wave_labels: rollout ? JSON.stringify(rollout.waves.map(waveLabel)) : null,
    current_wave: 0,
    pause_until: null,
    allowance: rollout ? failureAllowance(rollout.maxFailures, plan.deployments) : 0,
    reason: null,
    rollback_pending: 0,
    rollback_activation_id: null,
  });
}

type Counts = Record<DeploymentStatus, number>;

function countsOf(rows: readonly Pick<DeploymentView, 'status'>[]): Counts {
  const counts = Object.fromEntries(DEPLOYMENT_STATUSES.map((s) => [s, 0])) as Counts;
  for (const r of rows) counts[r.status]++;
  return counts;
}

type WaveState = NonNullable<ActivationView['activation']['rollout']>['waves'][number]['state'];

function waveState(row: RolloutRow, index: number, counts: Counts, size: number): WaveState {
  const moving = row.state === 'running' || row.state === 'paused';
  if (counts.Pending + counts.InProgress > 0 || (moving && index === row.current_wave && counts.Queued > 0)) return 'running';
  if (counts.Queued > 0) return 'waiting';
  if (moving && index === row.current_wave && row.pause_until !== null) return 'pausing';
  if (counts.Failed > 0) return 'failed';
  if (counts.Held > 0) return 'held';
  if (size === 0 && moving && index > row.current_wave) return 'waiting';
  return 'succeeded';
}

function rolloutView(row: RolloutRow, rows: readonly DeploymentView[]): NonNullable<ActivationView['activation']['rollout']> {
  const spec = rolloutSpecOf(row);
  const labels = JSON.parse(row.wave_labels ?? '[]') as string[];
  const waves = labels.map((label, index) => {
    const members = rows.filter((r) => r.wave === index);
    const counts = countsOf(members);
    return { index, label, agents: members.length, counts, state: waveState(row, index, counts, members.length) };
  });
  return {
    state: row.state ?? 'completed',
    waves,
    currentWave: row.current_wave,
    maxParallel: spec.maxParallel ?? null,
    maxFailures: spec.maxFailures ?? 0,
    failures: rows.filter((r) => r.status === 'Failed').length,
    pause: pauseMs(spec),
    onFailure: spec.onFailure ?? 'stop',
    reason: row.reason,
    pauseUntil: row.pause_until,
    rollbackActivationId: row.rollback_activation_id,
  };
}

/** The activation view: its deployments (with their wave) and what the activation was, its rollout's state per wave. */
export async function activationView(ctx: ServerContext, access: Access, id: string): Promise<ActivationView> {
  const uuid = isUuid(id);
  const row = uuid ? await findActivation(ctx.db, access.workspaceId, id) : undefined;
  const rows = uuid ? await activationDeployments(ctx.db, access.workspaceId, id) : [];
  if (!row && rows.length === 0) throw new DroverError('DROVER_ERR_DEPLOYMENT_NOT_FOUND', `activation ${id} does not exist in this workspace`);
  rows.sort((a, b) => (a.agent_name < b.agent_name ? -1 : a.agent_name > b.agent_name ? 1 : 0));
  const deployments = rows.map((r) => toDeploymentApi(r, ctx.publicUrl));
  const first = deployments[0];
  return {
    deployments,
    activation: {
      id,
      // Activations from before 0011 have no row: what their deployments say.
      createdAt: row?.created_at ?? first?.createdAt ?? nowIso(),
      createdBy: row?.created_by ? (JSON.parse(row.created_by) as Actor) : (first?.createdBy ?? null),
      selector: row?.selector ?? null,
      counts: countsOf(rows),
      unchanged: row ? (JSON.parse(row.unchanged) as string[]) : [],
      url: activationUrl(ctx.publicUrl, access.workspaceName, id),
      rollout: row?.state ? rolloutView(row, rows) : null,
    },
  };
}

const ACTIONS = {
  pause: { from: ['running'], to: 'paused', verb: 'paused' },
  resume: { from: ['paused'], to: 'running', verb: 'resumed' },
  abort: { from: ['running', 'paused'], to: 'aborted', verb: 'aborted' },
} as const satisfies Record<string, { from: readonly RolloutState[]; to: RolloutState; verb: string }>;
export type RolloutAction = keyof typeof ACTIONS;

/**
 * Pause (no more releases; what runs finishes), resume (releases again) or
 * abort (every Queued deployment → Held; what runs finishes) a rollout.
 * Returns the activation view after the change.
 */
export async function rolloutAction(ctx: ServerContext, access: Access, id: string, action: RolloutAction): Promise<ActivationView> {
  const before = await activationView(ctx, access, id);
  const rollout = before.activation.rollout;
  if (!rollout) throw notARollout(id);
  const { from, to, verb } = ACTIONS[action];
  const reason = `${verb} by ${access.actor.label}`;
  let held: string[] = [];
  const changed = await ctx.db.transaction().execute(async (tx) => {
    if (!(await changeRollout(tx, id, from, { state: to, reason: action === 'resume' ? null : reason }))) return false;
    if (action === 'abort') held = await holdQueued(tx, id, `held: the rollout was ${reason}`);
    return true;
  });
  if (!changed) {
    const now = (await activationView(ctx, access, id)).activation.rollout?.state ?? rollout.state;
    throw new DroverError('DROVER_ERR_ROLLOUT_STATE', `rollout ${id} is ${now}; ${action} needs it ${from.join(' or ')}`);
  }
  if (held.length > 0) await ctx.bus.publish({ kind: 'deployment-changed', deploymentIds: held });
  if (action === 'resume')
    await ctx.rollouts.advance(id).catch((err: unknown) => ctx.log.warn({ err, activation: id }, 'rollout step after resume failed; the sweep retries'));
  return activationView(ctx, access, id);
}
