/** Migration 0017_usage: `usage_months`, one row per workspace and UTC month (usage/recorder.ts). */
import type { Kysely, Migration } from 'kysely';

export const usageMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('usage_months')
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('month', 'text', (c) => c.notNull())
      .addColumn('peak_agents', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('peak_at', 'text')
      .addColumn('agent_ms', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('last_slot', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('usage_months_pk', ['workspace_id', 'month'])
      .execute();
  },
};
