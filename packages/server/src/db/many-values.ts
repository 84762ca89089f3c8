/**
 * Statements on hot paths as SQL text built once per shape, instead of built
 * and compiled by Kysely's query builder at every call: an activation's
 * chunks (deployments/bulk.ts), an agent's hello and what it is sent
 * (agents/statements.ts, deployments/order-statements.ts), the token check
 * (auth/tokens.ts). Compiling a
 * 500-row insert cost more than the database's own work, and a hello's
 * statements were a tenth of a registration's CPU in Kysely's builder.
 *
 * The one seam between the dialects is how a statement takes many values
 * (`ManyValues`), chosen by how Kysely's own compiler writes a parameter.
 * On SQLite the statement cache (statement-cache.ts) then keeps each text
 * prepared; the texts are few (a full chunk, the last one, a batch's size).
 */
import { sql, type Kysely } from 'kysely';
import { chunks } from './chunks.js';

/** The columns a statement binds, in the order of their values, with their PostgreSQL types (for `unnest`). */
export type ColumnTypes = Readonly<Record<string, 'text' | 'bigint' | 'integer'>>;

/**
 * How a statement takes many values. SQLite binds each value (`?, ?, …`): its statements are prepared once and kept.
 * PostgreSQL takes one array per column (`unnest($1::text[], …)`, `= any($1)`): 11,500 bound values would cost its
 * parser more than the rows cost to write.
 */
export interface ManyValues {
  readonly key: 'sqlite' | 'postgres';
  /**
   * How many rows (or `inList` values) one bulk statement of an activation takes: its chunk of agents, the targets
   * looked up by name, the orders a worker reads back. SQLite binds every value, and stays well within its 32,766
   * bound values; PostgreSQL binds one array per column, and each statement is a round trip.
   */
  readonly chunkRows: number;
  /** The placeholder of the one parameter at `position` (1-based). */
  one(position: number): string;
  /** `reference in (…)` for `count` values, its parameters from `first`; `reference` is quoted SQL (`"agents"."id"`). */
  inList(reference: string, first: number, count: number): string;
  /** The parameters of an `inList`. */
  listParameters(values: readonly unknown[]): unknown[];
  /** `values …` / `select * from unnest(…)` for `count` rows of `columns`, their parameters from 1. */
  rows(columns: ColumnTypes, count: number): string;
  /** The parameters of `rows`: each row's value of each column, in the order of `columns`. */
  rowParameters(columns: ColumnTypes, rows: readonly object[]): unknown[];
}

const plain = (count: number): string => (count > 0 ? '?' + ', ?'.repeat(count - 1) : '');

const sqliteValues: ManyValues = {
  key: 'sqlite',
  chunkRows: 500,
  one: () => '?',
  inList: (reference, _first, count) => `${reference} in (${plain(count)})`,
  listParameters: (values) => [...values],
  rows: (columns, count) => {
    const row = `(${plain(Object.keys(columns).length)})`;
    return `values ${Array.from({ length: count }, () => row).join(', ')}`;
  },
  rowParameters: (columns, rows) => {
    const names = Object.keys(columns);
    const parameters: unknown[] = new Array<unknown>(rows.length * names.length);
    let i = 0;
    for (const row of rows as readonly Record<string, unknown>[]) for (const column of names) parameters[i++] = row[column];
    return parameters;
  },
};

const postgresValues: ManyValues = {
  key: 'postgres',
  chunkRows: 5_000,
  one: (position) => `$${position}`,
  inList: (reference, first) => `${reference} = any($${first}::text[])`,
  listParameters: (values) => [values],
  rows: (columns) =>
    `select * from unnest(${Object.entries(columns)
      .map(([, type], i) => `$${i + 1}::${type}[]`)
      .join(', ')})`,
  rowParameters: (columns, rows) => Object.keys(columns).map((column) => (rows as readonly Record<string, unknown>[]).map((row) => row[column])),
};

/** Each database's seam, by its dialect's adapter (a transaction shares its database's). */
const seams = new WeakMap<object, ManyValues>();

/** This database's seam, as its Kysely compiler writes a parameter (`?` on SQLite, `$1` on PostgreSQL). */
export function manyValuesOf<DB>(db: Kysely<DB>): ManyValues {
  const adapter = db.getExecutor().adapter;
  let many = seams.get(adapter);
  if (many === undefined) {
    many = sql`${0}`.compile(db).sql === '$1' ? postgresValues : sqliteValues;
    seams.set(adapter, many);
  }
  return many;
}

/** `items` split into this database's bulk statements (`chunkRows` each): an activation's chunks and its reads. */
export function bulkChunks<T, DB>(db: Kysely<DB>, items: readonly T[]): T[][] {
  return chunks(items, manyValuesOf(db).chunkRows);
}

/** `"a", "b", …`: the quoted names of these columns, in their order. */
export function columnList(columns: ColumnTypes): string {
  return Object.keys(columns)
    .map((c) => `"${c}"`)
    .join(', ');
}

/** SQL texts by dialect and shape: few distinct (a full chunk and the last one, per statement). */
const texts = new Map<string, string>();
const TEXTS_KEPT = 256;

/** The text of the statement `shape` names on this dialect, built by `build` the first time. */
export function sqlText(many: ManyValues, shape: string, build: () => string): string {
  const key = `${many.key}:${shape}`;
  let found = texts.get(key);
  if (found === undefined) {
    found = build();
    if (texts.size >= TEXTS_KEPT) texts.clear();
    texts.set(key, found);
  }
  return found;
}
