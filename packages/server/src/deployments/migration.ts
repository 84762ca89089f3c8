/**
 * Migrations of the deployments table.
 *
 * 0007_deployments_operator_end: who ended an InProgress deployment
 * by hand (its agent never came back), when and why. The columns stay when
 * the agent reports later and its outcome replaces the operator's mark.
 */
import type { Kysely, Migration } from 'kysely';

export const operatorEndMigration: Migration = {
  async up(db: Kysely<unknown>) {
    for (const column of ['ended_by', 'ended_by_label', 'ended_reason', 'ended_at']) {
      await db.schema.alterTable('deployments').addColumn(column, 'text').execute();
    }
  },
};

/** 0008_deployment_deadlines: a deploy's own activation and confirm timeouts (ms), sent to the agent with the order. */
export const deadlinesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    for (const column of ['activation_timeout_ms', 'confirm_timeout_ms']) {
      await db.schema.alterTable('deployments').addColumn(column, 'integer').execute();
    }
  },
};
