/**
 * Migration 0014_secrets: age-encrypted secrets (secrets/).
 *
 * - `secrets`: per workspace and name, where and how the agent writes the
 *   file (path, owner, group, mode), a version bumped on every change, the
 *   age ciphertext (binary age file, base64; never plaintext: it is
 *   encrypted on the client) and who created and last changed it.
 * - `secret_targets`: the agents a secret is for, each with the recipient it
 *   was encrypted to (so a recipient that changed since is flagged).
 * - `agents.recipient`: the agent's age X25519 recipient from its hello.
 * - `deployments.secrets_only` (0/1): a deployment that only rewrites the
 *   agent's secrets, never its profile.
 */
import type { Kysely, Migration } from 'kysely';

export const secretsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('secrets')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('owner', 'text')
      .addColumn('group_name', 'text')
      .addColumn('mode', 'integer', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('ciphertext', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text')
      .addColumn('created_by_label', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('updated_by', 'text')
      .addColumn('updated_by_label', 'text')
      .addUniqueConstraint('secrets_workspace_name', ['workspace_id', 'name'])
      .execute();
    await db.schema
      .createTable('secret_targets')
      .addColumn('secret_id', 'text', (c) => c.notNull().references('secrets.id').onDelete('cascade'))
      .addColumn('agent_id', 'text', (c) => c.notNull().references('agents.id').onDelete('cascade'))
      .addColumn('recipient', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('secret_targets_pk', ['secret_id', 'agent_id'])
      .execute();
    await db.schema.createIndex('secret_targets_agent').on('secret_targets').column('agent_id').execute();
    await db.schema.alterTable('agents').addColumn('recipient', 'text').execute();
    await db.schema
      .alterTable('deployments')
      .addColumn('secrets_only', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
};
