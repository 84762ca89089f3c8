/**
 * Migration 0006_auth_token_claims: an agent token created `--unbound` (fleet
 * enrolment) claims the agent name of its first connection. Tokens that were
 * unbound before this migration keep `claims_agent = 0` and keep working for
 * any agent name, as they always did.
 */
import type { Kysely, Migration } from 'kysely';

export const tokenClaimsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('tokens')
      .addColumn('claims_agent', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
};
