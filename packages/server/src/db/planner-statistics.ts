/**
 * Fresh planner statistics before a bulk operation, where the database plans
 * from them.
 *
 * PostgreSQL chooses each plan from the statistics ANALYZE gathers, and
 * autovacuum refreshes them only on its next round (a minute apart by
 * default) once a tenth of a table changed. Between a fleet's registration
 * and that round the planner still sees the table's old size: asked for 500
 * agents by name in a workspace it believes holds 220, it reads all 100,000
 * agents of the workspace and filters them (24 ms a statement instead of
 * 1 ms, 5–15 s for an activation of 100,000 agents instead of 0.4 s), and
 * superseding 100,000 Pending deployments walks the status index instead of
 * each agent's (bench/README.md, tenth pass). An activation of many agents
 * therefore first analyzes the tables it reads whose rows changed by more
 * than autovacuum's own threshold since their last analysis — a few hundred
 * milliseconds at 100,000 rows, once, where autovacuum would have been too
 * late. Tables analyzed recently cost one look at `pg_stat_user_tables`.
 *
 * SQLite plans from its indexes without statistics (the server never runs
 * its ANALYZE): there this does nothing.
 */
import { CompiledQuery, PostgresAdapter, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** The tables a bulk operation may ask to have fresh statistics for. */
export type AnalyzedTable = 'agents' | 'deployments';

/** autovacuum's defaults (autovacuum_analyze_threshold, autovacuum_analyze_scale_factor): a table is stale past both. */
const STALE_ROWS = 50;
const STALE_FRACTION = 0.1;

const STALE_TABLES = CompiledQuery.raw(
  'select relname from pg_stat_user_tables where schemaname = current_schema() and relname = any($1::text[])' +
    ` and n_mod_since_analyze > ${String(STALE_ROWS)} + ${String(STALE_FRACTION)} * greatest(n_live_tup, 0)`,
);

/**
 * Analyzes those of `tables` whose statistics are stale (PostgreSQL); returns the tables analyzed (none on SQLite).
 * Reads and writes go on meanwhile: ANALYZE takes no lock they wait for.
 */
export async function refreshStaleStatistics(db: Kysely<Database>, tables: readonly AnalyzedTable[]): Promise<AnalyzedTable[]> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter) || tables.length === 0) return [];
  const { rows } = await db.executeQuery<{ relname: AnalyzedTable }>(CompiledQuery.raw(STALE_TABLES.sql, [tables]));
  const stale = tables.filter((t) => rows.some((r) => r.relname === t));
  if (stale.length > 0) await db.executeQuery(CompiledQuery.raw(`analyze ${stale.map((t) => `"${t}"`).join(', ')}`));
  return stale;
}
