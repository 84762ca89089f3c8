/**
 * Migration 0011_rollouts: the `rollouts` table (one row per activation:
 * who, the `on` selector, the unchanged agents, and the state of its staged
 * rollout), and on deployments their wave and the path a rollback returns
 * them to.
 */
import type { Kysely, Migration } from 'kysely';

export const rolloutsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('rollouts')
      .addColumn('activation_id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text')
      .addColumn('selector', 'text')
      .addColumn('unchanged', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('state', 'text')
      .addColumn('spec', 'text')
      .addColumn('wave_labels', 'text')
      .addColumn('current_wave', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('pause_until', 'text')
      .addColumn('allowance', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('reason', 'text')
      .addColumn('rollback_pending', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('rollback_activation_id', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    // The sweep reads the rollouts still moving.
    await db.schema.createIndex('rollouts_state').on('rollouts').column('state').execute();
    await db.schema.alterTable('deployments').addColumn('wave', 'integer').execute();
    await db.schema.alterTable('deployments').addColumn('rollout_from', 'text').execute();
    // A rollout's per-wave counts and the Queued ones it releases next are index range reads.
    await db.schema.createIndex('deployments_activation_wave_status').on('deployments').columns(['activation_id', 'wave', 'status']).execute();
  },
};
