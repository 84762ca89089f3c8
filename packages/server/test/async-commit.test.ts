/**
 * transactionWithoutFlush (db/async-commit.ts): on PostgreSQL that
 * transaction alone commits without waiting for the disk, and what it
 * wrote is there after it; a failure rolls it back; on SQLite it is a plain
 * transaction. The registration uses it (agents/repository.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { transactionWithoutFlush } from '../src/db/async-commit.js';
import { backendCases, startTestServer, type TestServer } from './support.js';

const synchronousCommit = async (db: TestServer['db']): Promise<string | undefined> =>
  (await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(db)).rows[0]?.synchronous_commit;

for (const { backend, skip } of await backendCases()) {
  describe(`transactionWithoutFlush over ${backend}`, { skip }, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(backend, { schemaPrefix: 'drover_commit_' });
      await sql`create table commit_probe (n integer not null)`.execute(t.db);
    });
    after(() => t.close());

    test(backend === 'postgres' ? 'turns synchronous_commit off for that transaction only, and commits' : 'commits as a plain transaction', async () => {
      const seen = await transactionWithoutFlush(t.db, async (tx) => {
        await sql`insert into commit_probe (n) values (1)`.execute(tx);
        return backend === 'postgres' ? synchronousCommit(tx) : null;
      });
      assert.equal(seen, backend === 'postgres' ? 'off' : null);
      const rows = await sql<{ n: number }>`select n from commit_probe`.execute(t.db);
      assert.deepEqual(
        rows.rows.map((r) => r.n),
        [1],
      );
      if (backend === 'postgres') {
        // The pool's connections are back to the server's setting: every other transaction stays durable.
        for (let i = 0; i < 3; i++) assert.equal(await t.db.transaction().execute(synchronousCommit), 'on');
      }
    });

    test('rolls back what the work wrote when it throws, and throws its error', async () => {
      await assert.rejects(
        transactionWithoutFlush(t.db, async (tx) => {
          await sql`insert into commit_probe (n) values (2)`.execute(tx);
          throw new Error('the work failed');
        }),
        /the work failed/,
      );
      const rows = await sql<{ n: number }>`select n from commit_probe where n = 2`.execute(t.db);
      assert.equal(rows.rows.length, 0);
      // The connection went back to the pool outside any transaction.
      await transactionWithoutFlush(t.db, async (tx) => {
        await sql`insert into commit_probe (n) values (3)`.execute(tx);
      });
      assert.equal((await sql<{ n: number }>`select n from commit_probe where n = 3`.execute(t.db)).rows.length, 1);
    });
  });
}
