/**
 * The database tables as Kysely sees them. One schema for SQLite and
 * PostgreSQL: timestamps are ISO-8601 text (sortable, identical on both),
 * ids are UUID text, sizes are 64-bit integers read back as numbers.
 */
import type { Generated, Insertable, Selectable } from 'kysely';
import type { DeploymentStatus, LogStream, Role, TokenKind } from '@drover/protocol';
import type { RolloutsTable } from '../rollouts/tables.js';
import type { CacheNarsTable, CacheNarUploadsTable, CachePathsTable, CachePinsTable, CachesTable, TokenCachesTable } from '../cache/tables.js';
import type { ClosureDiffsTable, DeploymentDiffsTable } from '../deployments/diffs-tables.js';
import type { SecretsTable, SecretTargetsTable } from '../secrets/tables.js';
import type { AuditLogTable } from '../audit/tables.js';
import type { WebhookDeliveriesTable, WebhooksTable } from '../webhooks/tables.js';
import type { UsageMonthsTable } from '../usage/tables.js';

interface WorkspacesTable {
  id: string;
  name: string;
  created_at: string;
  cache_substituter: string | null;
  cache_public_key: string | null;
}

interface TokensTable {
  /** Public id, part of the token text; the secret is only stored hashed. */
  id: string;
  workspace_id: string;
  kind: TokenKind;
  /** Agent tokens may be bound to one agent name. */
  agent_name: string | null;
  /** 1: an unbound agent token whose first connection claims (binds) the agent name; 0: no claim (legacy unbound tokens accept any name). */
  claims_agent: number;
  description: string;
  /** hex SHA-256 of the token's secret part. */
  secret_hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface AgentsTable {
  id: string;
  workspace_id: string;
  name: string;
  created_at: string;
  version: string | null;
  system: string | null;
  profile: string | null;
  hostname: string | null;
  /** Set while a websocket is open on some replica; null after it closed. */
  connection_id: string | null;
  replica_id: string | null;
  connected_at: string | null;
  disconnected_at: string | null;
  /** When it connected or disconnected; pings in between go to agent_presence. */
  last_seen_at: string | null;
  current_store_path: string | null;
  /** JSON array of what keeps the agent from deploying, from its last hello; null: nothing. */
  problems: string | null;
  /** When a connection of this name from another host last replaced the one before, and that host. */
  conflict_at: string | null;
  conflict_hostname: string | null;
  /** JSON object of the agent's labels (agents/labels.ts); null: none. */
  labels: string | null;
  /** When an admin decommissioned it: it leaves the lists, its token is revoked, its history stays. */
  removed_at: string | null;
  /** Its age X25519 recipient from its last hello; null: it sent none (0014). */
  recipient: string | null;
  /** Index of the agent's latest real deployment (a dry run never becomes it). */
  last_index: Generated<number>;
  /** Highest deployment index handed out for this agent, dry runs included (0013). */
  issued_index: Generated<number>;
}

/** The latest pong of each connected agent, written in batches, never per ping. */
export interface AgentPresenceTable {
  agent_id: string;
  last_seen_at: string;
}

interface DeploymentsTable {
  id: string;
  workspace_id: string;
  agent_id: string;
  index_no: number;
  activation_id: string;
  store_path: string;
  /** The rollbackScript for the agent's system, once that system is known. */
  rollback_script: string | null;
  /** deploy.json's whole rollbackScript map (JSON), kept when the agent's system was not yet known. */
  rollback_scripts: string | null;
  status: DeploymentStatus;
  reason: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  closure_size: number | null;
  /** Who started it: `token:<id>` or `user:<name>`. */
  created_by: string | null;
  /** The user name or token description at the time (its id when it had none). */
  created_by_label: string | null;
  /** An operator ended it while InProgress (its agent never reported): `token:<id>` or `user:<name>`, label, why, when. */
  ended_by: string | null;
  ended_by_label: string | null;
  ended_reason: string | null;
  ended_at: string | null;
  /** deploy.json's activationTimeout and confirmTimeout in ms; null: the agent's own settings. */
  activation_timeout_ms: number | null;
  confirm_timeout_ms: number | null;
  /** 1: a dry run (`activate --dry`), nothing switched; 0: a real deployment (0013). */
  dry: Generated<number>;
  /** A dry run's `{restart, start, stop, reload}` unit lists (JSON); null until known or when not known. */
  would_restart: string | null;
  /** Its wave in a staged rollout (0-based, rollouts/); null outside one. */
  wave: number | null;
  /** The agent's current path when a rollout created it: what onFailure "rollback" deploys again. */
  rollout_from: string | null;
  /** 1: a secrets-only deployment, the agent rewrites its secrets and never touches the profile (0014). */
  secrets_only: Generated<number>;
}

interface UsersTable {
  id: string;
  name: string;
  /** `scrypt$N$r$p$salt$hash` (base64 parts), see auth/passwords.ts. */
  password_hash: string;
  created_at: string;
}

interface RoleGrantsTable {
  user_id: string;
  /** A workspace id, or '' for a grant that holds in every workspace. */
  workspace_id: string;
  role: Role;
  created_at: string;
}

interface SessionsTable {
  /** Public id, part of the cookie; the secret is only stored hashed. */
  id: string;
  user_id: string;
  /** hex SHA-256 of the cookie's secret part. */
  secret_hash: string;
  created_at: string;
  expires_at: string;
}

interface DeploymentLogsTable {
  deployment_id: string;
  seq: number;
  time: string;
  stream: LogStream;
  text: string;
}

/** How much of a deployment's log is stored, and where it was cut (deployments/repository.ts). */
interface DeploymentLogSizesTable {
  deployment_id: string;
  /** UTF-8 bytes of the stored lines' text. */
  bytes: number;
  /** The seq of the line saying the log was cut; later lines are dropped. Null while under the limit. */
  cut_seq: number | null;
}

export interface Database {
  workspaces: WorkspacesTable;
  tokens: TokensTable;
  agents: AgentsTable;
  agent_presence: AgentPresenceTable;
  deployments: DeploymentsTable;
  deployment_logs: DeploymentLogsTable;
  deployment_log_sizes: DeploymentLogSizesTable;
  users: UsersTable;
  role_grants: RoleGrantsTable;
  sessions: SessionsTable;
  caches: CachesTable;
  cache_nars: CacheNarsTable;
  cache_nar_uploads: CacheNarUploadsTable;
  cache_paths: CachePathsTable;
  cache_pins: CachePinsTable;
  token_caches: TokenCachesTable;
  closure_diffs: ClosureDiffsTable;
  deployment_diffs: DeploymentDiffsTable;
  rollouts: RolloutsTable;
  secrets: SecretsTable;
  secret_targets: SecretTargetsTable;
  audit_log: AuditLogTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  usage_months: UsageMonthsTable;
}

export type WorkspaceRow = Selectable<WorkspacesTable>;
export type TokenRow = Selectable<TokensTable>;
export type AgentRow = Selectable<AgentsTable>;
export type DeploymentRow = Selectable<DeploymentsTable>;
export type NewDeployment = Insertable<DeploymentsTable>;
export type UserRow = Selectable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
