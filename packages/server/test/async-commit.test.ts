/**
 * commitWithoutFlush (db/async-commit.ts): inside a transaction on
 * PostgreSQL, that transaction alone commits without waiting for the disk;
 * on SQLite it does nothing and fails nothing. The registration's
 * transaction uses it (agents/repository.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { commitWithoutFlush } from '../src/db/async-commit.js';
import { backendCases, startTestServer, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`commitWithoutFlush over ${backend}`, { skip }, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(backend, { schemaPrefix: 'drover_commit_' });
    });
    after(() => t.close());

    test(backend === 'postgres' ? 'turns synchronous_commit off for that transaction only' : 'does nothing, and the transaction commits', async () => {
      const seen = await t.db.transaction().execute(async (tx) => {
        await commitWithoutFlush(tx);
        if (backend === 'sqlite') return null;
        return (await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(tx)).rows[0]?.synchronous_commit;
      });
      if (backend === 'sqlite') {
        assert.equal(seen, null);
        return;
      }
      assert.equal(seen, 'off');
      // The pool's connection is back to the server's setting: every other transaction stays durable.
      const later = await t.db
        .transaction()
        .execute(async (tx) => (await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(tx)).rows[0]?.synchronous_commit);
      assert.equal(later, 'on');
    });
  });
}
