/**
 * How the replica that creates deployments delivers them, over SQLite and
 * PostgreSQL: from the rows it inserted (hub/agent-hub.ts `deliverFresh`),
 * once — its copy of the 'deploy' event does not send them again — and the
 * same order, field for field, as one read back from the database (what an
 * agent gets at hello); a real deployment and a dry run created back to
 * back each reach the agent (each kind supersedes only its own).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { unique, useApiServer } from './api-suite.js';
import { api, backendCases, storePath, type TestServer } from './support.js';

/** Long enough for a second copy of a frame (the bus event's delivery) to arrive if one were sent. */
const SETTLE_MS = 400;

for (const { backend, skip } of await backendCases()) {
  describe(`delivery of new deployments over ${backend}`, { skip }, () => {
    let t: TestServer;
    let activate: string;
    const { register } = useApiServer(backend, (s) => ({ t, activate } = s));

    const activateOne = async (agent: string, path: string, query = '', extra: object = {}) => {
      const res = await api(t, 'POST', `/api/v1/activate${query}`, { token: activate, body: { agents: { [agent]: path }, ...extra } });
      assert.equal(res.status, 201, res.text);
      return res.json.agents[agent] as { id: string; index: number };
    };

    test('a connected agent gets its new deployment once, as the order read back at hello', async () => {
      const name = unique('fresh');
      const token = (await t.mint('agent', { agent: name })).token;
      const { socket } = await register(token, name);
      const rollback = storePath('rollback');
      const created = await activateOne(name, storePath('fresh'), '', { rollbackScript: { 'x86_64-linux': rollback } });
      const fresh = await socket.next('deploy');
      assert.equal(fresh.deployment.id, created.id);
      assert.equal(fresh.deployment.rollbackScript, rollback);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      assert.deepEqual(
        socket.pending().filter((m) => m.type === 'deploy'),
        [],
        'the deploy event did not send it a second time',
      );
      socket.close();
      await socket.closedWithin();
      // At hello the newest Pending deployment is read back from the database: the same order.
      const again = await register(token, name);
      const reread = await again.socket.next('deploy');
      assert.deepEqual(reread.deployment, fresh.deployment);
    });

    test('a real deployment and a dry run created back to back both reach the agent', async () => {
      const name = unique('kinds');
      const token = (await t.mint('agent', { agent: name })).token;
      const { socket } = await register(token, name);
      const real = await activateOne(name, storePath('real'));
      const dry = await activateOne(name, storePath('dry'), '?dry=true');
      const first = await socket.next('deploy');
      const second = await socket.next('deploy');
      assert.deepEqual([first.deployment.id, second.deployment.id], [real.id, dry.id]);
      assert.equal(second.deployment.dry, true);
      assert.ok(second.deployment.index > first.deployment.index);
    });

    test('two activations in a row: the agent gets both, in order, and at hello only the newer one', async () => {
      const name = unique('newer');
      const token = (await t.mint('agent', { agent: name })).token;
      const { socket } = await register(token, name);
      const older = await activateOne(name, storePath('older'));
      const newer = await activateOne(name, storePath('newer'));
      assert.deepEqual([(await socket.next('deploy')).deployment.id, (await socket.next('deploy')).deployment.id], [older.id, newer.id]);
      socket.close();
      await socket.closedWithin();
      const again = await register(token, name);
      assert.equal((await again.socket.next('deploy')).deployment.id, newer.id);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      assert.deepEqual(
        again.socket.pending().filter((m) => m.type === 'deploy'),
        [],
      );
    });
  });
}
