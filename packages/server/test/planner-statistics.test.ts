/**
 * refreshStaleStatistics (db/planner-statistics.ts), over SQLite and
 * PostgreSQL: on PostgreSQL it analyzes a table whose rows changed past
 * autovacuum's threshold since its last analysis and leaves fresh ones
 * alone; an activation of 1,000 agents or more runs it first
 * (deployments/service.ts). On SQLite it does nothing. Autovacuum is turned
 * off for the test schema's tables, so only Drover can have analyzed them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { refreshStaleStatistics } from '../src/db/planner-statistics.js';
import { api, backendCases, registerTestAgents, startTestServer, storePath, type TestServer } from './support.js';

/** Enough agents for an activation to count as bulk (deployments/service.ts) and to make the empty table's statistics stale. */
const FLEET = 1000;

for (const { backend, skip } of await backendCases()) {
  describe(`planner statistics over ${backend}`, { skip }, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(backend, { schemaPrefix: 'drover_stats_' });
      if (backend === 'postgres')
        for (const table of ['agents', 'deployments']) await sql`alter table ${sql.table(table)} set (autovacuum_enabled = false)`.execute(t.db);
    });
    after(() => t.close());

    const registerFleet = async (prefix: string, count: number): Promise<string[]> => (await registerTestAgents(t, prefix, count)).map((agent) => agent.name);

    /** PostgreSQL's statistics of one table of the test schema, once the writers' counts reached it (they are flushed within about a second). */
    async function tableStats(table: string, atLeastModified = 0) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const { rows } = await sql<{ modified: string; analyzed: Date | null }>`
          select n_mod_since_analyze as modified, last_analyze as analyzed from pg_stat_user_tables
          where schemaname = current_schema() and relname = ${table}`.execute(t.db);
        const row = rows[0];
        assert.ok(row, `pg_stat_user_tables has no row for ${table}`);
        const stats = { modified: Number(row.modified), analyzed: row.analyzed };
        if (stats.modified >= atLeastModified || Date.now() > deadline) return stats;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    if (backend === 'sqlite') {
      test('does nothing on SQLite, which plans without statistics', async () => {
        await registerFleet('lite', 100);
        assert.deepEqual(await refreshStaleStatistics(t.db, ['agents', 'deployments']), []);
      });
      return;
    }

    test('analyzes a table changed past the threshold, and only that one, once', async () => {
      await registerFleet('fleet', FLEET);
      assert.ok((await tableStats('agents', FLEET)).modified >= FLEET, 'the registrations reached pg_stat_user_tables');
      assert.equal((await tableStats('agents')).analyzed, null, 'nothing analyzed the agents before');

      // The deployments table is empty and unchanged: its statistics are not stale.
      assert.deepEqual(await refreshStaleStatistics(t.db, ['agents', 'deployments']), ['agents']);
      const after = await tableStats('agents');
      assert.notEqual(after.analyzed, null);
      assert.equal(after.modified, 0);
      assert.equal((await tableStats('deployments')).analyzed, null);
      assert.deepEqual(await refreshStaleStatistics(t.db, ['agents', 'deployments']), [], 'fresh statistics are left alone');

      // A few changes stay under the threshold (50 rows + a tenth of the table).
      await registerFleet('few', 20);
      await tableStats('agents', 20);
      assert.deepEqual(await refreshStaleStatistics(t.db, ['agents']), []);
    });

    test(`an activation of ${String(FLEET)} agents first analyzes the deployments it is about to supersede`, async () => {
      const names = await registerFleet('bulk', FLEET);
      const { token } = await t.mint('activate');
      const activate = (tag: string) =>
        api(t, 'POST', '/api/v1/activate', { token, body: { agents: Object.fromEntries(names.map((n) => [n, storePath(`${tag}-${n}`)])) } });

      const one = await activate('one');
      assert.equal(one.status, 201, one.text);
      const deployments = await tableStats('deployments', FLEET);
      assert.ok(deployments.modified >= FLEET, 'the first activation left the deployments table changed since its (missing) analysis');
      assert.equal(deployments.analyzed, null);

      const two = await activate('two');
      assert.equal(two.status, 201, two.text);
      const later = await tableStats('deployments');
      assert.notEqual(later.analyzed, null, 'the second activation analyzed the deployments table first');
    });
  });
}
