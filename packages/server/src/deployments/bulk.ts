/**
 * The statements an activation runs per chunk of agents (`createDeployments`),
 * as SQL text built once per chunk shape instead of compiled by Kysely's
 * query builder for every chunk: a 500-row insert binds 11,500 values, and
 * compiling that tree cost more than the database's own work. One text for
 * both dialects; the only seam is how parameters are written, which is asked
 * of Kysely's own compiler (`?` on SQLite, `$1` on PostgreSQL). On SQLite the
 * statement cache (db/statement-cache.ts) then keeps each text prepared.
 */
import { CompiledQuery, sql, type Kysely } from 'kysely';
import type { Database, NewDeployment } from '../db/schema.js';

/** The columns a new deployment binds, in the order of its values. */
const INSERTED_COLUMNS = [
  'id',
  'workspace_id',
  'agent_id',
  'index_no',
  'activation_id',
  'store_path',
  'rollback_script',
  'rollback_scripts',
  'activation_timeout_ms',
  'confirm_timeout_ms',
  'wave',
  'rollout_from',
  'status',
  'reason',
  'created_at',
  'started_at',
  'finished_at',
  'closure_size',
  'created_by',
  'created_by_label',
  'dry',
  'would_restart',
  'secrets_only',
] as const satisfies readonly (keyof NewDeployment)[];

/** A complete new deployment: every inserted column has its value. */
export type InsertedDeployment = { [K in (typeof INSERTED_COLUMNS)[number]]-?: Exclude<NewDeployment[K], undefined> };

type Placeholders = (first: number, count: number) => string;

const numbered: Placeholders = (first, count) => Array.from({ length: count }, (_, i) => `$${first + i}`).join(', ');
const plain: Placeholders = (_first, count) => (count > 0 ? '?' + ', ?'.repeat(count - 1) : '');

/** How this database's dialect writes parameters, as its Kysely compiler does. */
function placeholdersOf(db: Kysely<Database>): Placeholders {
  return sql`${0}`.compile(db).sql === '$1' ? numbered : plain;
}

/** SQL texts by dialect and shape: few distinct (a full chunk and the last one). */
const texts = new Map<string, string>();
const TEXTS_KEPT = 64;

function text(db: Kysely<Database>, shape: string, build: (p: Placeholders) => string): string {
  const p = placeholdersOf(db);
  const key = `${p === numbered ? '$' : '?'}:${shape}`;
  let found = texts.get(key);
  if (found === undefined) {
    found = build(p);
    if (texts.size >= TEXTS_KEPT) texts.clear();
    texts.set(key, found);
  }
  return found;
}

const COLUMN_LIST = INSERTED_COLUMNS.map((c) => `"${c}"`).join(', ');

/** Inserts these deployments: one multi-row insert. */
export async function insertDeployments(db: Kysely<Database>, rows: readonly InsertedDeployment[]): Promise<void> {
  if (rows.length === 0) return;
  const width = INSERTED_COLUMNS.length;
  const query = text(db, `insert:${rows.length}`, (p) => {
    const tuples = Array.from({ length: rows.length }, (_, r) => `(${p(1 + r * width, width)})`);
    return `insert into "deployments" (${COLUMN_LIST}) values ${tuples.join(', ')}`;
  });
  const parameters: unknown[] = new Array<unknown>(rows.length * width);
  let i = 0;
  for (const row of rows) for (const column of INSERTED_COLUMNS) parameters[i++] = row[column];
  await db.executeQuery(CompiledQuery.raw(query, parameters));
}

/**
 * Each of these agents takes its next issued index (and, `latest`: makes it the agent's latest, what a real
 * deployment does); returns the index each one took.
 */
export async function bumpIssuedIndex(db: Kysely<Database>, agentIds: readonly string[], latest: boolean): Promise<Map<string, number>> {
  const query = text(
    db,
    `bump:${latest}:${agentIds.length}`,
    (p) =>
      `update "agents" set "issued_index" = "issued_index" + 1${latest ? ', "last_index" = "issued_index" + 1' : ''}` +
      ` where "id" in (${p(1, agentIds.length)}) returning "id", "issued_index"`,
  );
  const { rows } = await db.executeQuery<{ id: string; issued_index: number }>(CompiledQuery.raw(query, [...agentIds]));
  return new Map(rows.map((r) => [r.id, r.issued_index]));
}

/** Which older deployments of an agent a new one supersedes: real and secrets-only ones (dry = 0), dry runs, or secrets-only ones. */
export type SupersededKind = 'real' | 'dry' | 'secrets';

/** The Pending and Queued deployments of these agents of that kind become Superseded; returns their ids. */
export async function supersedeOlder(db: Kysely<Database>, agentIds: readonly string[], kind: SupersededKind, now: string): Promise<string[]> {
  const query = text(db, `supersede:${kind}:${agentIds.length}`, (p) => {
    const ofKind = kind === 'secrets' ? `"secrets_only" = 1` : `"dry" = ${kind === 'dry' ? 1 : 0}`;
    return (
      `update "deployments" set "status" = 'Superseded', "finished_at" = ${p(1, 1)}, "reason" = 'superseded by a newer deployment'` +
      ` where "agent_id" in (${p(2, agentIds.length)}) and "status" in ('Pending', 'Queued') and ${ofKind} returning "id"`
    );
  });
  const { rows } = await db.executeQuery<{ id: string }>(CompiledQuery.raw(query, [now, ...agentIds]));
  return rows.map((r) => r.id);
}
