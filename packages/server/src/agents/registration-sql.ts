/**
 * The two statements of a registration round (repository.ts
 * `registerAgents`) as SQL text built once per batch size
 * (db/many-values.ts): the agents' rows before their hellos, and the
 * multi-row upsert that creates or updates them. Built by Kysely's query
 * builder at every hello they were a tenth of a registration's CPU, and in
 * each worker of `--workers N` more code to compile.
 */
import { CompiledQuery, type Kysely } from 'kysely';
import { columnList, manyValuesOf, sqlText } from '../db/many-values.js';
import type { AgentRow, AgentsTable, Database } from '../db/schema.js';

/** What a hello writes of an agent: every column but the indexes (theirs: 0) and removed_at (null). */
const UPSERTED = {
  id: 'text',
  workspace_id: 'text',
  name: 'text',
  created_at: 'text',
  version: 'text',
  system: 'text',
  profile: 'text',
  hostname: 'text',
  connection_id: 'text',
  replica_id: 'text',
  connected_at: 'text',
  disconnected_at: 'text',
  last_seen_at: 'text',
  current_store_path: 'text',
  problems: 'text',
  conflict_at: 'text',
  conflict_hostname: 'text',
  recipient: 'text',
  labels: 'text',
} as const satisfies { readonly [K in keyof AgentsTable]?: 'text' };

/** A complete row as a hello upserts it. */
export type UpsertedAgent = { readonly [K in keyof typeof UPSERTED]: AgentsTable[K] };

/** The columns a hello replaces on an agent that exists: what the agent says of itself and its connection. */
const FROM_HELLO = [
  'version',
  'system',
  'profile',
  'hostname',
  'problems',
  'recipient',
  'connection_id',
  'replica_id',
  'connected_at',
  'last_seen_at',
  'labels',
] as const;

const UPSERT_TAIL =
  ` on conflict ("workspace_id", "name") do update set ` +
  [
    ...FROM_HELLO.map((c) => `"${c}" = "excluded"."${c}"`),
    // A decommissioned agent that connects again (with a valid token) is back.
    `"removed_at" = null`,
    // A conflict is recorded only when this hello replaced another host's connection; else the last one stays.
    `"conflict_at" = coalesce("excluded"."conflict_at", "agents"."conflict_at")`,
    `"conflict_hostname" = case when "excluded"."conflict_at" is null then "agents"."conflict_hostname" else "excluded"."conflict_hostname" end`,
  ].join(', ') +
  ` returning *`;

/** Creates or updates these agents (one row per workspace and name); returns their rows as stored. */
export async function upsertAgents(db: Kysely<Database>, rows: readonly UpsertedAgent[]): Promise<AgentRow[]> {
  if (rows.length === 0) return [];
  const many = manyValuesOf(db);
  const query = sqlText(
    many,
    `agents.upsert:${rows.length}`,
    () => `insert into "agents" (${columnList(UPSERTED)}) ${many.rows(UPSERTED, rows.length)}${UPSERT_TAIL}`,
  );
  return (await db.executeQuery<AgentRow>(CompiledQuery.raw(query, many.rowParameters(UPSERTED, rows)))).rows;
}

/** What a registration needs of an agent's row before its hello. */
export type RowBefore = Pick<AgentRow, 'workspace_id' | 'name' | 'connection_id' | 'replica_id' | 'hostname' | 'labels' | 'system'>;

/** The rows of these agents of one workspace, those that exist. */
export async function agentsBefore(db: Kysely<Database>, workspaceId: string, names: readonly string[]): Promise<RowBefore[]> {
  if (names.length === 0) return [];
  const many = manyValuesOf(db);
  const query = sqlText(
    many,
    `agents.before:${names.length}`,
    () =>
      `select "workspace_id", "name", "connection_id", "replica_id", "hostname", "labels", "system" from "agents"` +
      ` where "workspace_id" = ${many.one(1)} and ${many.inList('"name"', 2, names.length)}`,
  );
  return (await db.executeQuery<RowBefore>(CompiledQuery.raw(query, [workspaceId, ...many.listParameters(names)]))).rows;
}
