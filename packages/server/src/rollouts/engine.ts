/**
 * The rollout engine: moves staged rollouts forward. Every replica runs one;
 * all state is in the database, so any of them continues a rollout another
 * started, and a restart loses nothing.
 *
 * A step (`step`) runs in one transaction that first locks the rollout row
 * (rollouts/repository.ts `lockMoving`): it counts the deployments per wave
 * and status in one grouped read; over the failure budget it stops the
 * rollout (Queued → Held, and with onFailure "rollback" marks the rollback
 * to create); otherwise it releases Queued → Pending within maxParallel in
 * the current wave, or — once every deployment of the wave is final — waits
 * out the pause and moves to the next wave. Released deployments are
 * announced as a 'deploy' event, so the hub holding each agent sends it.
 *
 * Steps are triggered by bus events about deployments (coalesced: one step
 * per rollout per flush, however many agents reported), by a timer at the
 * end of a pause, and by a periodic sweep that covers missed events, pauses
 * that ended while no replica ran, and rollouts another replica left.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { DroverError, isStorePath, pauseMs, type Actor, type DeploymentStatus, type RolloutSpec } from '@drover/protocol';
import type { Bus, BusEvent } from '../bus/bus.js';
import type { Database } from '../db/schema.js';
import { nowIso } from '../db/time.js';
import { createDeployments, type PlannedDeployment } from '../deployments/repository.js';
import { holdQueued, releaseQueued, rolloutActivationsOf, succeededWithOrigin, waveCounts, type WaveCount } from '../deployments/rollout-transitions.js';
import { changeRollout, claimRollback, insertActivation, lockMoving, movingRollouts, type RolloutRow } from './repository.js';

export interface RolloutEngineOptions {
  readonly db: Kysely<Database>;
  readonly bus: Bus;
  readonly log: Logger;
  /** How often every moving rollout is looked at (default 5 s). */
  readonly sweepMs?: number | undefined;
}

/** Bus events are gathered this long before the rollouts they touch take a step. */
const FLUSH_MS = 50;
const ACTIVE: readonly DeploymentStatus[] = ['Pending', 'InProgress'];

/** Thrown inside the rollback's transaction when another replica created it first. */
class RollbackTaken extends Error {}

export function rolloutSpecOf(row: Pick<RolloutRow, 'spec'>): RolloutSpec {
  return JSON.parse(row.spec ?? '{"waves":[]}') as RolloutSpec;
}

export function waveCountOf(row: Pick<RolloutRow, 'wave_labels'>): number {
  return (JSON.parse(row.wave_labels ?? '[]') as string[]).length;
}

function countIn(counts: readonly WaveCount[], wave: number | null, statuses: readonly DeploymentStatus[]): number {
  return counts.filter((c) => (wave === null || c.wave === wave) && statuses.includes(c.status)).reduce((n, c) => n + c.n, 0);
}

interface StepOutcome {
  readonly released: { id: string; agentId: string }[];
  readonly held: string[];
  readonly rollback: boolean;
  readonly wakeAt: number | null;
}

/** One step of one rollout, inside the caller's transaction (see the module comment). */
async function step(tx: Kysely<Database>, activationId: string): Promise<StepOutcome> {
  const none: StepOutcome = { released: [], held: [], rollback: false, wakeAt: null };
  const row = await lockMoving(tx, activationId);
  if (!row) return none;
  const spec = rolloutSpecOf(row);
  const counts = await waveCounts(tx, activationId);
  const failures = countIn(counts, null, ['Failed']);
  if (failures > row.allowance) {
    const rollback = spec.onFailure === 'rollback';
    const reason = `${failures} deployment${failures === 1 ? '' : 's'} failed, more than maxFailures allows (${row.allowance})${rollback ? '; the agents of the rollout that succeeded are rolled back' : ''}`;
    const held = await holdQueued(tx, activationId, `held: the rollout stopped (${reason})`);
    await changeRollout(tx, activationId, ['running', 'paused'], { state: 'stopped', reason, pause_until: null, rollback_pending: rollback ? 1 : 0 });
    return { ...none, held, rollback };
  }
  if (row.state === 'paused') return none;
  const waves = waveCountOf(row);
  const pause = pauseMs(spec);
  let wave = row.current_wave;
  let pauseUntil = row.pause_until;
  let released: StepOutcome['released'] = [];
  let wakeAt: number | null = null;
  let state: RolloutRow['state'] = 'running';
  for (;;) {
    const active = countIn(counts, wave, ACTIVE);
    const queued = countIn(counts, wave, ['Queued']);
    if (active + queued > 0) {
      const slots = spec.maxParallel === undefined ? queued : Math.min(queued, spec.maxParallel - active);
      released = await releaseQueued(tx, activationId, wave, slots);
      break;
    }
    if (wave >= waves - 1) {
      state = 'completed';
      break;
    }
    if (pause > 0) {
      if (pauseUntil === null) pauseUntil = new Date(Date.now() + pause).toISOString();
      if (Date.parse(pauseUntil) > Date.now()) {
        wakeAt = Date.parse(pauseUntil);
        break;
      }
    }
    wave++;
    pauseUntil = null;
  }
  if (state !== row.state || wave !== row.current_wave || pauseUntil !== row.pause_until) {
    await changeRollout(tx, activationId, ['running'], { state, current_wave: wave, pause_until: pauseUntil });
  }
  return { released, held: [], rollback: false, wakeAt };
}

export class RolloutEngine {
  private readonly dirty = new Set<string>();
  private readonly changedDeployments = new Set<string>();
  private readonly wakeTimers = new Map<string, NodeJS.Timeout>();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | null = null;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private readonly log: Logger;
  private stopped = false;

  constructor(private readonly opts: RolloutEngineOptions) {
    this.log = opts.log.child({ component: 'rollouts' });
    this.unsubscribe = opts.bus.subscribe((event) => this.onBusEvent(event));
    this.sweepTimer = setInterval(() => void this.sweep(), opts.sweepMs ?? 5000).unref();
    // Rollouts left moving by a replica that stopped (or this one before a restart).
    void this.sweep();
  }

  private onBusEvent(event: BusEvent): void {
    if (event.kind === 'deployment-changed') for (const id of event.deploymentIds) this.changedDeployments.add(id);
    else if (event.kind === 'deploy') for (const id of event.superseded) this.changedDeployments.add(id);
    else if (event.kind === 'resync') void this.sweep();
    else return;
    this.schedule();
  }

  /** Asks for a step of this rollout soon (after an activation, a resume, a pause ending). */
  kick(activationId: string): void {
    this.dirty.add(activationId);
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, FLUSH_MS);
    this.flushTimer.unref();
  }

  /** Steps every rollout marked or touched by the gathered events, one after another; a flush never overlaps another. */
  private async flush(): Promise<void> {
    if (this.flushing) {
      await this.flushing;
      this.schedule();
      return;
    }
    this.flushing = (async () => {
      try {
        const changed = [...this.changedDeployments];
        this.changedDeployments.clear();
        if (changed.length > 0) for (const id of await rolloutActivationsOf(this.opts.db, changed)) this.dirty.add(id);
        const ids = [...this.dirty];
        this.dirty.clear();
        for (const id of ids) {
          if (this.stopped) return;
          await this.advance(id);
        }
      } catch (err) {
        this.log.warn({ err }, 'rollout step failed; the sweep retries');
      }
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
  }

  /** One step of a rollout, then what it decided: announce releases and holds, set the pause timer, create a rollback. */
  async advance(activationId: string): Promise<void> {
    const outcome = await this.opts.db.transaction().execute((tx) => step(tx, activationId));
    const { bus } = this.opts;
    if (outcome.released.length > 0) await bus.publish({ kind: 'deploy', deployments: outcome.released, superseded: [] });
    if (outcome.released.length > 0) await bus.publish({ kind: 'deployment-changed', deploymentIds: outcome.released.map((r) => r.id) });
    if (outcome.held.length > 0) await bus.publish({ kind: 'deployment-changed', deploymentIds: outcome.held });
    if (outcome.held.length > 0 || outcome.rollback) this.log.warn({ activation: activationId, held: outcome.held.length }, 'rollout stopped over its failure budget');
    if (outcome.wakeAt !== null) this.wakeAt(activationId, outcome.wakeAt);
    if (outcome.rollback) await this.rollback(activationId);
  }

  private wakeAt(activationId: string, at: number): void {
    if (this.stopped || this.wakeTimers.has(activationId)) return;
    const timer = setTimeout(
      () => {
        this.wakeTimers.delete(activationId);
        this.kick(activationId);
      },
      Math.max(0, at - Date.now()) + 5,
    );
    timer.unref();
    this.wakeTimers.set(activationId, timer);
  }

  /**
   * onFailure "rollback": the agents whose deployment in the rollout
   * Succeeded get their previous path again, as a new activation. The claim
   * on `rollback_pending` runs in the same transaction as the new
   * deployments, so exactly one replica creates them, even after a crash.
   */
  async rollback(activationId: string): Promise<void> {
    const { db, bus } = this.opts;
    const row = await db.selectFrom('rollouts').selectAll().where('activation_id', '=', activationId).where('rollback_pending', '=', 1).executeTakeFirst();
    if (!row) return;
    const planned: PlannedDeployment[] = [];
    for (const d of await succeededWithOrigin(db, activationId)) {
      if (d.from === null || !isStorePath(d.from)) continue;
      planned.push({ agentId: d.agentId, storePath: d.from, rollbackScript: d.rollbackScript !== null && isStorePath(d.rollbackScript) ? d.rollbackScript : null, rollbackScripts: null });
    }
    const createdBy = row.created_by ? (JSON.parse(row.created_by) as Actor) : null;
    try {
      const created = await createDeployments(db, {
        workspaceId: row.workspace_id,
        createdBy,
        planned,
        within: async (tx, rollbackId) => {
          if (!(await claimRollback(tx, activationId, rollbackId))) throw new RollbackTaken();
          await insertActivation(tx, {
            activation_id: rollbackId,
            workspace_id: row.workspace_id,
            created_at: nowIso(),
            created_by: row.created_by,
            selector: null,
            unchanged: '[]',
            state: null,
            spec: null,
            wave_labels: null,
            current_wave: 0,
            pause_until: null,
            allowance: 0,
            reason: `rollback of the stopped rollout ${activationId}`,
            rollback_pending: 0,
            rollback_activation_id: null,
          });
        },
      });
      this.log.warn({ activation: activationId, rollback: created.activationId, agents: created.rows.length }, 'rollout rolled back');
      await bus.publish({ kind: 'deploy', deployments: created.rows.map((r) => ({ id: r.id, agentId: r.agent_id })), superseded: created.superseded });
    } catch (err) {
      if (!(err instanceof RollbackTaken)) throw err;
    }
  }

  /** Every rollout still moving takes a step; rollbacks not yet created are created. */
  async sweep(): Promise<void> {
    if (this.stopped) return;
    try {
      for (const r of await movingRollouts(this.opts.db)) {
        if (r.rollback_pending === 1) await this.rollback(r.activation_id);
        else this.dirty.add(r.activation_id);
      }
      this.schedule();
    } catch (err) {
      if (!this.stopped) this.log.warn({ err }, 'rollout sweep failed; retrying at the next');
    }
  }

  /** Stops the timers and waits for a step in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    clearInterval(this.sweepTimer);
    clearTimeout(this.flushTimer);
    for (const t of this.wakeTimers.values()) clearTimeout(t);
    this.wakeTimers.clear();
    await this.flushing;
  }
}

/** For services: a rollout action on an activation that has no rollout. */
export function notARollout(activationId: string): DroverError {
  return new DroverError('DROVER_ERR_NOT_A_ROLLOUT', `activation ${activationId} is not a staged rollout`);
}
