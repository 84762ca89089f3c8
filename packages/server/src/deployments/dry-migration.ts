/**
 * Migration 0013_dry_runs: dry runs (`activate --dry`).
 *
 * - `deployments.dry` (0/1): the deployment is a dry run — the agent fetches
 *   and runs the profile's dry activation, nothing is switched.
 * - `deployments.would_restart`: what the dry activation said a switch would
 *   do to units (JSON `{restart, start, stop, reload}`), null until known.
 * - `agents.issued_index`: the highest index handed out to any deployment of
 *   the agent, dry runs included. `last_index` stays the index of the latest
 *   real deployment (the agent's "latest"), so a dry run never becomes it.
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const dryRunMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('deployments')
      .addColumn('dry', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable('deployments').addColumn('would_restart', 'text').execute();
    await db.schema
      .alterTable('agents')
      .addColumn('issued_index', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await sql`update agents set issued_index = last_index`.execute(db);
  },
};
