/**
 * Commits that need not wait for the disk, where the database can say so.
 *
 * Some writes are state the next event rewrites anyway: an agent's hello
 * records its connection, and after a database crash every connection is
 * gone and every agent says hello again. On PostgreSQL such a transaction
 * may commit without waiting for its WAL record to reach the disk
 * (`synchronous_commit = off` for this transaction only): a crash can lose
 * the last fraction of a second of them — never corrupt anything, and other
 * transactions stay durable — and the commit costs no flush. A fleet coming
 * back to a `--workers N` server registers in small batches, each a commit.
 * SQLite's WAL with `synchronous = NORMAL` (db/connect.ts) already commits
 * without a flush; there this does nothing.
 */
import { CompiledQuery, PostgresAdapter, type Kysely } from 'kysely';
import type { Database } from './schema.js';

const ASYNC_COMMIT = CompiledQuery.raw('set local synchronous_commit = off');

/** Inside a transaction: lets its commit skip waiting for the disk (PostgreSQL); nothing elsewhere. */
export async function commitWithoutFlush(tx: Kysely<Database>): Promise<void> {
  if (tx.getExecutor().adapter instanceof PostgresAdapter) await tx.executeQuery(ASYNC_COMMIT);
}
