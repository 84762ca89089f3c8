/**
 * The `rollouts` table: one row per activation (who, the `on` selector, the
 * agents left unchanged) and, for a staged rollout, its state. Every change
 * of state is one guarded UPDATE naming the states it leaves, so replicas
 * and users racing on one rollout cannot apply a transition twice; the
 * engine's step starts by touching the row, which on PostgreSQL holds its
 * lock until the step commits (one replica steps a rollout at a time).
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../db/schema.js';
import { nowIso } from '../db/time.js';
import type { RolloutsTable } from './tables.js';

export type RolloutRow = Selectable<RolloutsTable>;
export type RolloutState = NonNullable<RolloutRow['state']>;

export async function insertActivation(db: Kysely<Database>, row: Omit<RolloutRow, 'updated_at'>): Promise<void> {
  await db
    .insertInto('rollouts')
    .values({ ...row, updated_at: nowIso() })
    .execute();
}

export async function findActivation(db: Kysely<Database>, workspaceId: string, activationId: string): Promise<RolloutRow | undefined> {
  return db.selectFrom('rollouts').selectAll().where('activation_id', '=', activationId).where('workspace_id', '=', workspaceId).executeTakeFirst();
}

/** Takes a rollout that is still moving (running or paused) for one step: the row, locked until the transaction ends, or undefined. */
export async function lockMoving(db: Kysely<Database>, activationId: string): Promise<RolloutRow | undefined> {
  return db
    .updateTable('rollouts')
    .set({ updated_at: nowIso() })
    .where('activation_id', '=', activationId)
    .where('state', 'in', ['running', 'paused'])
    .returningAll()
    .executeTakeFirst();
}

export type RolloutChange = Partial<Pick<RolloutRow, 'state' | 'current_wave' | 'pause_until' | 'reason' | 'rollback_pending'>>;

/** Applies `change` only while the rollout is in one of `from`; false when it was not. */
export async function changeRollout(db: Kysely<Database>, activationId: string, from: readonly RolloutState[], change: RolloutChange): Promise<boolean> {
  const r = await db
    .updateTable('rollouts')
    .set({ ...change, updated_at: nowIso() })
    .where('activation_id', '=', activationId)
    .where('state', 'in', [...from])
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Records the rollback activation once: false when another replica already did. */
export async function claimRollback(db: Kysely<Database>, activationId: string, rollbackActivationId: string): Promise<boolean> {
  const r = await db
    .updateTable('rollouts')
    .set({ rollback_pending: 0, rollback_activation_id: rollbackActivationId, updated_at: nowIso() })
    .where('activation_id', '=', activationId)
    .where('rollback_pending', '=', 1)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** The rollouts the sweep looks at: still moving, or waiting for their rollback to be created. */
export async function movingRollouts(db: Kysely<Database>): Promise<{ activation_id: string; rollback_pending: number }[]> {
  return db
    .selectFrom('rollouts')
    .select(['activation_id', 'rollback_pending'])
    .where((eb) => eb.or([eb('state', 'in', ['running', 'paused']), eb('rollback_pending', '=', 1)]))
    .execute();
}
