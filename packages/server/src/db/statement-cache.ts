/**
 * Prepared statements kept for reuse on the embedded SQLite database.
 * Kysely's SQLite driver prepares every query it runs; preparing costs more
 * than running most of ours (an agent's hello is seven short statements), so
 * the server hands Kysely a database whose `prepare` returns the statement
 * it prepared for the same SQL text before: the most recently used
 * `STATEMENTS_KEPT` of them. Safe because the one connection runs one
 * statement at a time (Kysely's mutex holds it for a whole stream too), and
 * SQLite re-prepares a kept statement by itself after a schema change.
 */
import type { Database as SQLiteDatabase, Statement } from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/** Distinct SQL texts kept (id-list chunks of other lengths are other texts). */
const STATEMENTS_KEPT = 500;

/** Kysely's view of the database, with better-sqlite3's statements (which say whether they write, sqlite-driver.ts). */
export interface CachingDatabase extends SqliteDatabase {
  prepare(sql: string): Statement;
}

export function withStatementCache(sqlite: SQLiteDatabase, kept = STATEMENTS_KEPT): CachingDatabase {
  const statements = new Map<string, Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string): Statement {
      const hit = statements.get(sql);
      if (hit) {
        // Most recently used last: the first key is the one to drop.
        statements.delete(sql);
        statements.set(sql, hit);
        return hit;
      }
      const statement = sqlite.prepare(sql);
      statements.set(sql, statement);
      if (statements.size > kept) {
        const oldest = statements.keys().next();
        if (!oldest.done) statements.delete(oldest.value);
      }
      return statement;
    },
  };
}
