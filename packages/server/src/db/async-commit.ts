/**
 * Transactions that need not wait for the disk, where the database can say so.
 *
 * Some writes are state the next event rewrites anyway: an agent's hello
 * records its connection, and after a database crash every connection is
 * gone and every agent says hello again. On PostgreSQL such a transaction
 * commits without waiting for its WAL record to reach the disk
 * (`synchronous_commit = off` for this transaction only): a crash can lose
 * the last fraction of a second of them — never corrupt anything, and other
 * transactions stay durable — and the commit costs no flush. Its `begin`
 * and the setting travel as one simple-protocol query, so the transaction
 * costs one round trip more than its own statements, not two: a fleet
 * coming back registers in batches of a few hellos, each such a
 * transaction. SQLite's WAL with `synchronous = NORMAL` (db/connect.ts)
 * already commits without a flush; there it is a plain transaction.
 */
import { CompiledQuery, PostgresAdapter, type Kysely } from 'kysely';
import type { Database } from './schema.js';

const BEGIN_WITHOUT_FLUSH = CompiledQuery.raw('begin; set local synchronous_commit = off');
const COMMIT = CompiledQuery.raw('commit');
const ROLLBACK = CompiledQuery.raw('rollback');

/** Whether this database's transactions can commit without waiting for the disk (PostgreSQL). */
export function skipsFlush(db: Kysely<Database>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** Runs `work` in a transaction whose commit does not wait for the disk (PostgreSQL); a plain transaction elsewhere. */
export async function transactionWithoutFlush<T>(db: Kysely<Database>, work: (tx: Kysely<Database>) => Promise<T>): Promise<T> {
  if (!skipsFlush(db)) return db.transaction().execute(work);
  return db.connection().execute(async (conn) => {
    await conn.executeQuery(BEGIN_WITHOUT_FLUSH);
    let result: T;
    try {
      result = await work(conn);
    } catch (error) {
      // A connection that died takes its transaction with it; the pool drops it.
      await conn.executeQuery(ROLLBACK).catch(() => undefined);
      throw error;
    }
    await conn.executeQuery(COMMIT);
    return result;
  });
}
