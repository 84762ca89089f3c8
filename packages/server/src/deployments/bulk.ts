/**
 * The statements an activation runs per chunk of agents (`createDeployments`),
 * as SQL text built once per chunk shape instead of compiled by Kysely's
 * query builder for every chunk: a 500-row insert binds 11,500 values, and
 * compiling that tree cost more than the database's own work. One text per
 * statement; the only seam between the dialects is how a statement takes
 * many values (`ManyValues`), chosen by how Kysely's own compiler writes a
 * parameter. On SQLite the statement cache (db/statement-cache.ts) then
 * keeps each text prepared.
 */
import { CompiledQuery, sql, type Kysely } from 'kysely';
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
const INSERTED_COLUMNS = Object.keys(INSERTED) as (keyof typeof INSERTED)[];

/** A complete new deployment: every inserted column has its value. */
export type InsertedDeployment = { [K in keyof typeof INSERTED]-?: Exclude<NewDeployment[K], undefined> };

/**
 * How a statement takes many values, the one seam between the dialects. SQLite binds each value (`?, ?, …`): its
 * statements are prepared once and kept. PostgreSQL takes one array per column (`unnest($1::text[], …)`, `= any($1)`):
 * 11,500 bound values would cost its parser more than the rows cost to write.
 */
interface ManyValues {
  readonly key: string;
  /** The placeholder of the one parameter at `position` (1-based). */
  one(position: number): string;
  /** `"column" in (…)` for `count` values, its parameters from `first`. */
  inList(column: string, first: number, count: number): string;
  /** The parameters of an `inList`. */
  listParameters(values: readonly unknown[]): unknown[];
  /** `values …` / `select * from unnest(…)` for `rows` new deployments, and their parameters. */
  rows(count: number): string;
  rowParameters(rows: readonly InsertedDeployment[]): unknown[];
}

const COLUMN_LIST = INSERTED_COLUMNS.map((c) => `"${c}"`).join(', ');
const plain = (count: number): string => (count > 0 ? '?' + ', ?'.repeat(count - 1) : '');

const sqliteValues: ManyValues = {
  key: 'sqlite',
  one: () => '?',
  inList: (column, _first, count) => `"${column}" in (${plain(count)})`,
  listParameters: (values) => [...values],
  rows: (count) => `values ${Array.from({ length: count }, () => `(${plain(INSERTED_COLUMNS.length)})`).join(', ')}`,
  rowParameters: (rows) => {
    const parameters: unknown[] = new Array<unknown>(rows.length * INSERTED_COLUMNS.length);
    let i = 0;
    for (const row of rows) for (const column of INSERTED_COLUMNS) parameters[i++] = row[column];
    return parameters;
  },
};

const postgresValues: ManyValues = {
  key: 'postgres',
  one: (position) => `$${position}`,
  inList: (column, first) => `"${column}" = any($${first}::text[])`,
  listParameters: (values) => [values],
  rows: () => `select * from unnest(${INSERTED_COLUMNS.map((c, i) => `$${i + 1}::${INSERTED[c]}[]`).join(', ')})`,
  rowParameters: (rows) => INSERTED_COLUMNS.map((column) => rows.map((row) => row[column])),
};

/** This database's seam, as its Kysely compiler writes a parameter (`?` on SQLite, `$1` on PostgreSQL). */
function manyValuesOf(db: Kysely<Database>): ManyValues {
  return sql`${0}`.compile(db).sql === '$1' ? postgresValues : sqliteValues;
}

/** SQL texts by dialect and shape: few distinct (a full chunk and the last one). */
const texts = new Map<string, string>();
const TEXTS_KEPT = 64;

function text(many: ManyValues, shape: string, build: () => string): string {
  const key = `${many.key}:${shape}`;
  let found = texts.get(key);
  if (found === undefined) {
    found = build();
    if (texts.size >= TEXTS_KEPT) texts.clear();
    texts.set(key, found);
  }
  return found;
}

/** Inserts these deployments: one statement. */
export async function insertDeployments(db: Kysely<Database>, rows: readonly InsertedDeployment[]): Promise<void> {
  if (rows.length === 0) return;
  const many = manyValuesOf(db);
  const query = text(many, `insert:${rows.length}`, () => `insert into "deployments" (${COLUMN_LIST}) ${many.rows(rows.length)}`);
  await db.executeQuery(CompiledQuery.raw(query, many.rowParameters(rows)));
}

/**
 * Each of these agents takes its next issued index (and, `latest`: makes it the agent's latest, what a real
 * deployment does); returns the index each one took.
 */
export async function bumpIssuedIndex(db: Kysely<Database>, agentIds: readonly string[], latest: boolean): Promise<Map<string, number>> {
  const many = manyValuesOf(db);
  const query = text(
    many,
    `bump:${latest}:${agentIds.length}`,
    () =>
      `update "agents" set "issued_index" = "issued_index" + 1${latest ? ', "last_index" = "issued_index" + 1' : ''}` +
      ` where ${many.inList('id', 1, agentIds.length)} returning "id", "issued_index"`,
  );
  const { rows } = await db.executeQuery<{ id: string; issued_index: number }>(CompiledQuery.raw(query, many.listParameters(agentIds)));
  return new Map(rows.map((r) => [r.id, r.issued_index]));
}

/** Which older deployments of an agent a new one supersedes: real and secrets-only ones (dry = 0), dry runs, or secrets-only ones. */
export type SupersededKind = 'real' | 'dry' | 'secrets';

/** The Pending and Queued deployments of these agents of that kind become Superseded; returns their ids. */
export async function supersedeOlder(db: Kysely<Database>, agentIds: readonly string[], kind: SupersededKind, now: string): Promise<string[]> {
  const many = manyValuesOf(db);
  const query = text(many, `supersede:${kind}:${agentIds.length}`, () => {
    const ofKind = kind === 'secrets' ? `"secrets_only" = 1` : `"dry" = ${kind === 'dry' ? 1 : 0}`;
    return (
      `update "deployments" set "status" = 'Superseded', "finished_at" = ${many.one(1)}, "reason" = 'superseded by a newer deployment'` +
      ` where ${many.inList('agent_id', 2, agentIds.length)} and "status" in ('Pending', 'Queued') and ${ofKind} returning "id"`
    );
  });
  const { rows } = await db.executeQuery<{ id: string }>(CompiledQuery.raw(query, [now, ...many.listParameters(agentIds)]));
  return rows.map((r) => r.id);
}
