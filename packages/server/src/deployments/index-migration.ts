/**
 * Migration 0018_deployments_activation_index: drops `deployments_activation_agent`
 * (activation_id, agent_id). Every query by activation looks up by
 * activation_id (with wave, status or workspace), which the rollouts'
 * `deployments_activation_wave_status` (activation_id, wave, status) serves
 * as well; no query looks up one agent's deployment within an activation.
 * One index fewer to maintain per inserted deployment: ~10 % of what
 * creating an activation's 10,000 rows costs SQLite.
 */
import type { Kysely, Migration } from 'kysely';

export const activationIndexMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.dropIndex('deployments_activation_agent').ifExists().execute();
  },
};
