/**
 * The statements an activation runs per chunk of agents (`createDeployments`),
 * as SQL text built once per chunk shape instead of compiled by Kysely's
 * query builder for every chunk (db/many-values.ts): a 500-row insert binds
 * 11,500 values, and compiling that tree cost more than the database's own
 * work.
 */
import { CompiledQuery, type Kysely } from 'kysely';
import { columnList, manyValuesOf, sqlText } from '../db/many-values.js';
import type { Database, NewDeployment } from '../db/schema.js';

/** The columns a new deployment binds, in the order of its values, with their PostgreSQL types (for `unnest`). */
const INSERTED = {
  id: 'text',
  workspace_id: 'text',
  agent_id: 'text',
  index_no: 'bigint',
  activation_id: 'text',
  store_path: 'text',
  rollback_script: 'text',
  rollback_scripts: 'text',
  activation_timeout_ms: 'integer',
  confirm_timeout_ms: 'integer',
  wave: 'integer',
  rollout_from: 'text',
  status: 'text',
  reason: 'text',
  created_at: 'text',
  started_at: 'text',
  finished_at: 'text',
  closure_size: 'bigint',
  created_by: 'text',
  created_by_label: 'text',
  dry: 'integer',
  would_restart: 'text',
  secrets_only: 'integer',
} as const satisfies { readonly [K in keyof NewDeployment]?: 'text' | 'bigint' | 'integer' };
const INSERTED_COLUMNS = columnList(INSERTED);

/** A complete new deployment: every inserted column has its value. */
export type InsertedDeployment = { [K in keyof typeof INSERTED]-?: Exclude<NewDeployment[K], undefined> };

/** Inserts these deployments: one statement. */
export async function insertDeployments(db: Kysely<Database>, rows: readonly InsertedDeployment[]): Promise<void> {
  if (rows.length === 0) return;
  const many = manyValuesOf(db);
  const query = sqlText(many, `deployments.insert:${rows.length}`, () => `insert into "deployments" (${INSERTED_COLUMNS}) ${many.rows(INSERTED, rows.length)}`);
  await db.executeQuery(CompiledQuery.raw(query, many.rowParameters(INSERTED, rows)));
}

/**
 * Each of these agents takes its next issued index (and, `latest`: makes it the agent's latest, what a real
 * deployment does); returns the index each one took.
 */
export async function bumpIssuedIndex(db: Kysely<Database>, agentIds: readonly string[], latest: boolean): Promise<Map<string, number>> {
  const many = manyValuesOf(db);
  const query = sqlText(
    many,
    `deployments.bump:${latest}:${agentIds.length}`,
    () =>
      `update "agents" set "issued_index" = "issued_index" + 1${latest ? ', "last_index" = "issued_index" + 1' : ''}` +
      ` where ${many.inList('"id"', 1, agentIds.length)} returning "id", "issued_index"`,
  );
  const { rows } = await db.executeQuery<{ id: string; issued_index: number }>(CompiledQuery.raw(query, many.listParameters(agentIds)));
  return new Map(rows.map((r) => [r.id, r.issued_index]));
}

/** Which older deployments of an agent a new one supersedes: real and secrets-only ones (dry = 0), dry runs, or secrets-only ones. */
export type SupersededKind = 'real' | 'dry' | 'secrets';

/** The Pending and Queued deployments of these agents of that kind become Superseded; returns their ids. */
export async function supersedeOlder(db: Kysely<Database>, agentIds: readonly string[], kind: SupersededKind, now: string): Promise<string[]> {
  const many = manyValuesOf(db);
  const query = sqlText(many, `deployments.supersede:${kind}:${agentIds.length}`, () => {
    const ofKind = kind === 'secrets' ? `"secrets_only" = 1` : `"dry" = ${kind === 'dry' ? 1 : 0}`;
    return (
      `update "deployments" set "status" = 'Superseded', "finished_at" = ${many.one(1)}, "reason" = 'superseded by a newer deployment'` +
      ` where ${many.inList('"agent_id"', 2, agentIds.length)} and "status" in ('Pending', 'Queued') and ${ofKind} returning "id"`
    );
  });
  const { rows } = await db.executeQuery<{ id: string }>(CompiledQuery.raw(query, [now, ...many.listParameters(agentIds)]));
  return rows.map((r) => r.id);
}
