/**
 * 0012_closure_diffs: what each deployment changes (diffs-tables.ts). A
 * deployment has at most one diff, the first computed (by the server at
 * creation, else by its agent); both go when the workspace is deleted.
 */
import type { Kysely, Migration } from 'kysely';

export const closureDiffsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('closure_diffs')
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('pair', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('closure_diffs_pk', ['workspace_id', 'pair'])
      .execute();
    await db.schema
      .createTable('deployment_diffs')
      .addColumn('deployment_id', 'text', (c) => c.primaryKey().references('deployments.id').onDelete('cascade'))
      .addColumn('workspace_id', 'text', (c) => c.notNull())
      .addColumn('pair', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
  },
};
