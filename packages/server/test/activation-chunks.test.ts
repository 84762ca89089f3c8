/**
 * An activation of more agents than one bulk statement takes
 * (`ManyValues.chunkRows`: 500 rows on SQLite, 5,000 on PostgreSQL), over
 * both databases: createDeployments writes every chunk, the last short one
 * too — one Pending deployment per agent at its next index — and a second
 * activation supersedes every deployment of the first, across the chunks'
 * boundary. The reads an activation makes in chunks of the same size find
 * every agent too: its targets by name, the orders a worker reads back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { findActivationTargets } from '../src/agents/repository.js';
import { manyValuesOf } from '../src/db/many-values.js';
import { createDeployments, pendingOrders, pendingOrdersOfActivation, type PlannedDeployment } from '../src/deployments/repository.js';
import { backendCases, registerTestAgents, startTestServer, storePath, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`an activation larger than one chunk over ${backend}`, { skip }, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(backend, { schemaPrefix: 'drover_chunks_' });
    });
    after(() => t.close());

    /** The status of each deployment of these ids. */
    async function statuses(ids: readonly string[]): Promise<Map<string, string>> {
      const rows = await t.db.selectFrom('deployments').select(['id', 'status']).execute();
      const wanted = new Set(ids);
      return new Map(rows.filter((r) => wanted.has(r.id)).map((r) => [r.id, r.status]));
    }

    test('every agent gets one deployment, the next activation supersedes them all', async () => {
      const fleet = await registerTestAgents(t, 'chunked', manyValuesOf(t.db).chunkRows + 1);
      const activate = (name: string) => {
        const path = storePath(name);
        const planned: PlannedDeployment[] = fleet.map((a) => ({ agentId: a.agentId, storePath: path, rollbackScript: null, rollbackScripts: null }));
        return createDeployments(t.db, { workspaceId: t.defaultWorkspaceId, createdBy: null, planned });
      };

      const first = await activate('first');
      assert.equal(first.rows.length, fleet.length, 'one row per agent, the short last chunk too');
      assert.deepEqual(new Set(first.rows.map((r) => r.agent_id)), new Set(fleet.map((a) => a.agentId)));
      assert.ok(
        first.rows.every((r) => r.index_no === 1 && r.status === 'Pending'),
        'each agent at its first index',
      );
      assert.deepEqual(first.superseded, []);
      const targets = await findActivationTargets(
        t.db,
        t.defaultWorkspaceId,
        fleet.map((a) => a.name),
      );
      assert.equal(targets.length, fleet.length, 'every target found by name');
      assert.equal(
        (
          await pendingOrders(
            t.db,
            first.rows.map((r) => r.id),
          )
        ).size,
        fleet.length,
        'every order read back by id',
      );
      // All but one agent: fewer than the activation's deployments, so read in chunks of agents.
      const most = new Map(fleet.slice(1).map((a) => [a.agentId, true]));
      const ofActivation = await pendingOrdersOfActivation(t.db, first.activationId, most, fleet.length);
      assert.deepEqual(new Set(ofActivation.keys()), new Set(most.keys()), "the activation's orders read back for these agents");

      const second = await activate('second');
      assert.ok(
        second.rows.every((r) => r.index_no === 2),
        'each agent at its next index',
      );
      assert.deepEqual(new Set(second.superseded), new Set(first.rows.map((r) => r.id)), 'every first deployment superseded');
      const stored = await statuses([...first.rows, ...second.rows].map((r) => r.id));
      assert.equal(stored.size, 2 * fleet.length, 'both activations stored whole');
      for (const r of first.rows) assert.equal(stored.get(r.id), 'Superseded');
      for (const r of second.rows) assert.equal(stored.get(r.id), 'Pending');
    });
  });
}
