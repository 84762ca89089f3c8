/**
 * Time-ordered row ids (db/row-id.ts), over SQLite and PostgreSQL: the
 * agents, activations and deployments created one after another have ids
 * that sort in the order they were created — what keeps each insert at the
 * right edge of its table's primary-key B-tree — and are still UUIDs; so
 * do ids made faster than the clock moves (the counter, and its overflow).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newRowId } from '../src/db/row-id.js';
import { unique, useApiServer } from './api-suite.js';
import { api, backendCases, storePath, type TestServer } from './support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('ids made within one millisecond, more than its counter holds, stay in order and distinct', () => {
  // ~0.2 µs an id: 20,000 span a few milliseconds, more than 4,096 in some of them.
  const ids = Array.from({ length: 20_000 }, () => newRowId());
  for (const id of ids) assert.match(id, UUID);
  for (let i = 1; i < ids.length; i++) assert.ok((ids[i - 1] ?? '') < (ids[i] ?? ''), `id ${i} sorts after id ${i - 1}: ${ids[i - 1]} < ${ids[i]}`);
  assert.equal(new Set(ids).size, ids.length);
  const ms = parseInt((ids[0] ?? '').replace(/-/g, '').slice(0, 12), 16);
  assert.ok(Math.abs(ms - Date.now()) < 60_000, 'the first 48 bits are the time in milliseconds');
});

for (const { backend, skip } of await backendCases()) {
  describe(`row ids over ${backend}`, { skip }, () => {
    let t: TestServer;
    let activate: string;
    useApiServer(backend, (s) => ({ t, activate } = s));

    test('agents, activations and deployments created later sort after those created earlier', async () => {
      const names: string[] = [];
      for (let i = 0; i < 3; i++) {
        names.push(unique(`row-id-${i}`));
        await t.mint('agent', { agent: names[i] });
      }
      const agentIds = (await t.db.selectFrom('agents').select(['id', 'name']).where('name', 'in', names).execute())
        .sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name))
        .map((a) => a.id);
      assert.equal(agentIds.length, 3);

      const activations: { activationId: string; ids: string[] }[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await api(t, 'POST', '/api/v1/activate', {
          token: activate,
          body: { agents: Object.fromEntries(names.map((n) => [n, storePath(`row-id-${i}`)])) },
        });
        assert.equal(res.status, 201, res.text);
        const agents = res.json.agents as Record<string, { id: string }>;
        activations.push({ activationId: res.json.activationId as string, ids: names.map((n) => agents[n]?.id ?? '') });
      }

      const everyId = [...agentIds, ...activations.flatMap((a) => [a.activationId, ...a.ids])];
      for (const id of everyId) assert.match(id, UUID, 'a UUIDv7');
      const sorted = (ids: readonly string[]) => [...ids].sort();
      assert.deepEqual(sorted(agentIds), agentIds, 'agents in the order they were created');
      const activationIds = activations.map((a) => a.activationId);
      assert.deepEqual(sorted(activationIds), activationIds, 'activations in the order they were created');
      for (let i = 1; i < activations.length; i++) {
        const earlier = activations[i - 1]?.ids ?? [];
        for (const id of activations[i]?.ids ?? [])
          for (const before of earlier) assert.ok(before < id, `deployment ${id} sorts after ${before} of the activation before`);
      }
    });
  });
}
