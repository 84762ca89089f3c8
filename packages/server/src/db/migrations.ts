/**
 * Embedded schema migrations, applied at start-up by Kysely's Migrator (which
 * takes a lock, so replicas starting together are safe). Never edit a shipped
 * migration; add the next one.
 */
import { type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { cacheMigration, cacheNarUploadsMigration } from '../cache/migration.js';
import { tokenClaimsMigration } from '../auth/migration.js';
import { deadlinesMigration, operatorEndMigration } from '../deployments/migration.js';
import { agentProblemsMigration } from '../agents/migration.js';
import { agentLabelsMigration } from '../agents/labels-migration.js';
import { rolloutsMigration } from '../rollouts/migration.js';
import { closureDiffsMigration } from '../deployments/diffs-migration.js';
import { dryRunMigration } from '../deployments/dry-migration.js';
import { activationIndexMigration } from '../deployments/index-migration.js';
import { secretsMigration } from '../secrets/migration.js';
import { auditLogMigration } from '../audit/migration.js';
import { webhooksMigration } from '../webhooks/migration.js';
import { usageMigration } from '../usage/migration.js';

const initial: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('workspaces')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('cache_substituter', 'text')
      .addColumn('cache_public_key', 'text')
      .execute();
    await db.schema
      .createTable('tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('agent_name', 'text')
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('last_used_at', 'text')
      .addColumn('revoked_at', 'text')
      .execute();
    await db.schema.createIndex('tokens_workspace').on('tokens').column('workspace_id').execute();
    await db.schema
      .createTable('agents')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('version', 'text')
      .addColumn('system', 'text')
      .addColumn('profile', 'text')
      .addColumn('hostname', 'text')
      .addColumn('connection_id', 'text')
      .addColumn('replica_id', 'text')
      .addColumn('connected_at', 'text')
      .addColumn('disconnected_at', 'text')
      .addColumn('last_seen_at', 'text')
      .addColumn('current_store_path', 'text')
      .addColumn('last_index', 'bigint', (c) => c.notNull().defaultTo(0))
      .addUniqueConstraint('agents_workspace_name', ['workspace_id', 'name'])
      .execute();
    // Pings are flushed here in batches, apart from the agents rows that activations
    // lock: a last-seen flush can never wait for (or deadlock with) an activation.
    await db.schema
      .createTable('agent_presence')
      .addColumn('agent_id', 'text', (c) => c.primaryKey().references('agents.id').onDelete('cascade'))
      .addColumn('last_seen_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('deployments')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
      .addColumn('agent_id', 'text', (c) => c.notNull().references('agents.id').onDelete('cascade'))
      .addColumn('index_no', 'bigint', (c) => c.notNull())
      .addColumn('activation_id', 'text', (c) => c.notNull())
      .addColumn('store_path', 'text', (c) => c.notNull())
      .addColumn('rollback_script', 'text')
      .addColumn('rollback_scripts', 'text')
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text')
      .addColumn('finished_at', 'text')
      .addColumn('closure_size', 'bigint')
      .addColumn('created_by', 'text')
      .addUniqueConstraint('deployments_agent_index', ['agent_id', 'index_no'])
      .execute();
    await db.schema.createIndex('deployments_agent_status').on('deployments').columns(['agent_id', 'status']).execute();
    await db.schema.createIndex('deployments_workspace_created').on('deployments').columns(['workspace_id', 'created_at']).execute();
    // (activation, agent): an activation's deployments, and one agent's deployment in it, are index lookups.
    await db.schema.createIndex('deployments_activation_agent').on('deployments').columns(['activation_id', 'agent_id']).execute();
    await db.schema
      .createTable('deployment_logs')
      .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('time', 'text', (c) => c.notNull())
      .addColumn('stream', 'text', (c) => c.notNull())
      .addColumn('text', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('deployment_logs_pk', ['deployment_id', 'seq'])
      .execute();
  },
  async down(db: Kysely<unknown>) {
    for (const table of ['deployment_logs', 'deployments', 'agent_presence', 'agents', 'tokens', 'workspaces']) {
      await db.schema.dropTable(table).execute();
    }
  },
};

/** Users, their role grants and sign-in sessions; who started a deployment, as a label. */
const users: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('role_grants')
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      // The empty string stands for "every workspace": NULL would defeat the unique index.
      .addColumn('workspace_id', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('role_grants_user_workspace').unique().on('role_grants').columns(['user_id', 'workspace_id']).execute();
    await db.schema.createIndex('role_grants_workspace').on('role_grants').column('workspace_id').execute();
    await db.schema
      .createTable('sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
    await db.schema.alterTable('deployments').addColumn('created_by_label', 'text').execute();
  },
};

/** The size of each deployment's stored log, for its limit (DROVER_MAX_LOG_BYTES). */
const logSizes: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('deployment_log_sizes')
      .addColumn('deployment_id', 'text', (c) => c.primaryKey().references('deployments.id').onDelete('cascade'))
      .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('cut_seq', 'integer')
      .execute();
  },
};

const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_users': users,
  '0003_cache': cacheMigration,
  '0004_cache_nar_uploads': cacheNarUploadsMigration,
  '0005_log_sizes': logSizes,
  '0006_auth_token_claims': tokenClaimsMigration,
  '0007_deployments_operator_end': operatorEndMigration,
  '0008_deployment_deadlines': deadlinesMigration,
  '0009_agent_problems': agentProblemsMigration,
  '0010_agent_labels': agentLabelsMigration,
  '0011_rollouts': rolloutsMigration,
  '0012_closure_diffs': closureDiffsMigration,
  '0013_dry_runs': dryRunMigration,
  '0014_secrets': secretsMigration,
  '0015_audit_log': auditLogMigration,
  '0016_webhooks': webhooksMigration,
  '0017_usage': usageMigration,
  '0018_deployments_activation_index': activationIndexMigration,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
