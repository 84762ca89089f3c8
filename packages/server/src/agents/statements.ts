/**
 * The agents' statements on hot paths as SQL text built once per list
 * length (db/many-values.ts): the two of a registration round (repository.ts
 * `registerAgents`: the agents' rows before their hellos, and the multi-row
 * upsert that creates or updates them) and the reads of live agents by name
 * (an activation's targets, 500 names a statement, and whole rows). Built by Kysely's query builder at every
 * hello they were a tenth of a registration's CPU, and in each worker of
 * `--workers N` more code to compile.
 */
import { CompiledQuery, type Kysely } from 'kysely';
import { columnList, manyValuesOf, sqlText } from '../db/many-values.js';
import type { AgentRow, AgentsTable, Database } from '../db/schema.js';
import type { AgentSeen } from './repository.js';

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

/**
 * `select` (the columns, from "agents" and what it joins) for these names of one workspace, `also` any further
 * condition: the statement named `shape`, its text built once per list length.
 */
async function byNames<Row>(db: Kysely<Database>, shape: string, select: string, also: string, workspaceId: string, names: readonly string[]): Promise<Row[]> {
  if (names.length === 0) return [];
  const many = manyValuesOf(db);
  const query = sqlText(
    many,
    `agents.${shape}:${names.length}`,
    () => `${select} where "agents"."workspace_id" = ${many.one(1)} and ${many.inList('"agents"."name"', 2, names.length)}${also}`,
  );
  return (await db.executeQuery<Row>(CompiledQuery.raw(query, [workspaceId, ...many.listParameters(names)]))).rows;
}

const BEFORE = `select "workspace_id", "name", "connection_id", "replica_id", "hostname", "labels", "system" from "agents"`;

/** The rows of these agents of one workspace, those that exist. */
export function agentsBefore(db: Kysely<Database>, workspaceId: string, names: readonly string[]): Promise<RowBefore[]> {
  return byNames(db, 'before', BEFORE, '', workspaceId, names);
}

/** With their latest pong, only the live ones (not decommissioned): what every look-up of agents by name reads. */
const WITH_PRESENCE = ` from "agents" left join "agent_presence" as "p" on "p"."agent_id" = "agents"."id"`;
const LIVE = ' and "agents"."removed_at" is null';

/** These `columns` of the live agents of one workspace among these names, with their latest pong (`pong_at`). */
function liveByNames<Row>(db: Kysely<Database>, shape: string, columns: string, workspaceId: string, names: readonly string[]): Promise<Row[]> {
  return byNames(db, shape, `select "p"."last_seen_at" as "pong_at", ${columns}${WITH_PRESENCE}`, LIVE, workspaceId, names);
}

/** The whole rows of the live agents of one workspace among these names, with their latest pong. */
export function liveAgentRows(db: Kysely<Database>, workspaceId: string, names: readonly string[]): Promise<(AgentRow & AgentSeen)[]> {
  return liveByNames(db, 'rows', '"agents".*', workspaceId, names);
}

/**
 * What an activation needs of each agent it names: who it is, what it runs, its labels (for `on` and waves) and
 * whether it is online (for the answer). Only these columns: reading whole rows for 10,000 agents cost more than
 * the look-up itself.
 */
export type ActivationTarget = Pick<AgentRow, 'id' | 'name' | 'system' | 'current_store_path' | 'labels'> & AgentSeen;

const TARGET_COLUMNS = `"agents"."id", "agents"."name", "agents"."system", "agents"."current_store_path", "agents"."labels", "agents"."connection_id", "agents"."last_seen_at"`;

/** The live agents of one workspace among these names, with what an activation needs of them. */
export function activationTargets(db: Kysely<Database>, workspaceId: string, names: readonly string[]): Promise<ActivationTarget[]> {
  return liveByNames(db, 'targets', TARGET_COLUMNS, workspaceId, names);
}
