/**
 * Migration 0009_agent_problems: what an agent said keeps it from deploying
 * (its hello's self-check problems, JSON), and the last time another agent
 * process with the same name from another host replaced its connection.
 */
import type { Kysely, Migration } from 'kysely';

export const agentProblemsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    for (const column of ['problems', 'conflict_at', 'conflict_hostname']) {
      await db.schema.alterTable('agents').addColumn(column, 'text').execute();
    }
  },
};
