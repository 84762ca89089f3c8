/**
 * Migration 0010_agent_labels: each agent's labels (a JSON object; null:
 * none) and when it was decommissioned (removed from the lists, its token
 * revoked, its history kept).
 */
import type { Kysely, Migration } from 'kysely';

export const agentLabelsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    for (const column of ['labels', 'removed_at']) {
      await db.schema.alterTable('agents').addColumn(column, 'text').execute();
    }
  },
};
