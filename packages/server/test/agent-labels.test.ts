/**
 * Agent labels, selection, the fleet overview and decommissioning over
 * SQLite and PostgreSQL: labels from the hello and from an admin (admin wins,
 * kept apart), `?selector=` and `?status=` on the agents list (paged),
 * `GET …/fleet` counts, and `DELETE …/agents/:name` (leaves lists and counts,
 * token revoked, connection closed, activation refuses it, history stays,
 * back with a new token).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@drover/test-support';
import { assertError, unique, useApiServer } from './api-suite.js';
import type { AgentSocket } from './fake-agent.js';
import { api, backendCases, storePath, type TestServer } from './support.js';
import { nowIso } from '../src/db/time.js';

for (const { backend, skip } of await backendCases()) {
  describe(`agent labels, selectors, fleet and decommission over ${backend}`, { skip }, () => {
    let t: TestServer;
    let admin: string;
    let activate: string;
    const { register } = useApiServer(backend, (s) => ({ t, admin, activate } = s));

    const agentOf = async (name: string) => (await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate })).json;
    const connect = async (name: string, labels: Record<string, string>) => {
      const token = (await t.mint('agent', { agent: name })).token;
      return { token, ...(await register(token, name, { labels })) };
    };
    const fleet = async () => {
      const res = await api(t, 'GET', '/api/v1/fleet', { token: activate });
      assert.equal(res.status, 200, res.text);
      return res.json as Record<string, number>;
    };
    const names = async (query: string) => {
      const res = await api(t, 'GET', `/api/v1/agents?${query}`, { token: activate });
      assert.equal(res.status, 200, res.text);
      return { names: (res.json.agents as { name: string }[]).map((a) => a.name), total: res.json.total as number };
    };

    test('the hello labels are stored; an admin overrides and removes them, kept apart from what the agent declares', async () => {
      const name = unique('lab');
      const { token, socket } = await connect(name, { role: 'web', region: 'eu' });
      let agent = await agentOf(name);
      assert.deepEqual(agent.labels, { region: 'eu', role: 'web' });
      assert.deepEqual(agent.agentLabels, { region: 'eu', role: 'web' });
      assert.deepEqual(agent.adminLabels, {});

      const patch = await api(t, 'PATCH', `/api/v1/agents/${name}/labels`, { token: admin, body: { labels: { role: 'db', tier: 'gold', region: null } } });
      assert.equal(patch.status, 200, patch.text);
      assert.deepEqual(patch.json.labels, { role: 'db', tier: 'gold' });
      assert.deepEqual(patch.json.adminLabels, { region: null, role: 'db', tier: 'gold' });

      // The agent reconnects declaring other labels: the admin's changes still win.
      socket.close();
      await register(token, name, { labels: { role: 'web', region: 'us', zone: 'a' } });
      agent = await agentOf(name);
      assert.deepEqual(agent.labels, { role: 'db', tier: 'gold', zone: 'a' });
      assert.deepEqual(agent.agentLabels, { region: 'us', role: 'web', zone: 'a' });

      // PATCH removing an admin-only label drops it; PUT {} clears every admin change.
      const dropped = await api(t, 'PATCH', `/api/v1/agents/${name}/labels`, { token: admin, body: { labels: { tier: null } } });
      assert.deepEqual(dropped.json.adminLabels, { region: null, role: 'db' });
      const put = await api(t, 'PUT', `/api/v1/agents/${name}/labels`, { token: admin, body: { labels: {} } });
      assert.equal(put.status, 200, put.text);
      assert.deepEqual(put.json.labels, { region: 'us', role: 'web', zone: 'a' });
    });

    test('label changes: admin role only, checked labels, unknown agents 404', async () => {
      const name = unique('guard');
      await connect(name, {});
      const denied = await api(t, 'PATCH', `/api/v1/agents/${name}/labels`, { token: activate, body: { labels: { role: 'web' } } });
      assert.equal(denied.status, 403, denied.text);
      assertError(await api(t, 'PATCH', `/api/v1/agents/${name}/labels`, { token: admin, body: { labels: { role: 'no spaces' } } }), 'DROVER_ERR_VALIDATION');
      assertError(
        await api(t, 'PATCH', '/api/v1/agents/never-there/labels', { token: admin, body: { labels: { role: 'web' } } }),
        'DROVER_ERR_AGENT_NOT_FOUND',
      );
      assert.deepEqual((await agentOf(name)).labels, {});
    });

    test('?selector= and ?status= filter on the server, paged with the total of matches', async () => {
      const p = unique('sel');
      await connect(`${p}-a`, { role: 'web', region: 'eu' });
      await connect(`${p}-b`, { role: 'web', region: 'us' });
      await connect(`${p}-c`, { role: 'web' });
      await connect(`${p}-d`, { role: 'db', region: 'us' });
      assert.deepEqual(await names(`q=${p}&selector=role=web,region!=eu`), { names: [`${p}-b`, `${p}-c`], total: 2 });
      assert.deepEqual(await names(`q=${p}&selector=role=web,region!=eu&limit=1&offset=1`), { names: [`${p}-c`], total: 2 });
      assert.deepEqual(await names(`q=${p}&selector=!region`), { names: [`${p}-c`], total: 1 });
      assert.deepEqual(await names(`q=${p}&selector=region&status=online`), { names: [`${p}-a`, `${p}-b`, `${p}-d`], total: 3 });
      assert.deepEqual(await names(`q=${p}&selector=region&status=offline`), { names: [], total: 0 });
      assertError(await api(t, 'GET', '/api/v1/agents?selector=role==web', { token: activate }), 'DROVER_ERR_INVALID_SELECTOR', /role==web/);
    });

    test('the fleet overview and the status filters count the latest deployment: succeeded, failed, pending, in progress, behind', async () => {
      const before = await fleet();
      const p = unique('fl');
      const agents = new Map<string, AgentSocket>();
      for (const n of ['ok', 'bad', 'wait', 'run', 'back']) agents.set(n, (await connect(`${p}-${n}`, { fleet: p })).socket);
      const socketOf = (n: string): AgentSocket => {
        const s = agents.get(n);
        if (!s) throw new Error(`no agent ${n}`);
        return s;
      };
      const paths = Object.fromEntries([...agents.keys()].map((n) => [`${p}-${n}`, storePath(`fleet-${n}`)]));
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: paths } });
      assert.equal(res.status, 201, res.text);
      const idOf = (n: string) => res.json.agents[`${p}-${n}`].id as string;
      const finish = async (n: string, status: 'Succeeded' | 'Failed', activePath: string | null) => {
        const s = socketOf(n);
        await s.next('deploy');
        s.send({ type: 'deployment.started', id: idOf(n), time: nowIso() });
        s.send({ type: 'deployment.finished', id: idOf(n), time: nowIso(), status, reason: null, activePath });
        await s.next('deployment.ack');
      };
      await finish('ok', 'Succeeded', paths[`${p}-ok`] ?? null);
      await finish('bad', 'Failed', null);
      // Rolled back: Failed with the old path active again; its latest deployment's path is not what it runs.
      await finish('back', 'Failed', storePath('fleet-old'));
      const run = socketOf('run');
      await run.next('deploy');
      run.send({ type: 'deployment.started', id: idOf('run'), time: nowIso() });
      // 'wait' never starts (Pending).
      const sel = `selector=fleet=${p}`;
      await waitFor('the started deployment shows InProgress', async () => (await names(`${sel}&status=inprogress`)).total === 1);
      assert.deepEqual((await names(`${sel}&status=succeeded`)).names, [`${p}-ok`]);
      assert.deepEqual((await names(`${sel}&status=failed`)).names, [`${p}-back`, `${p}-bad`]);
      assert.deepEqual((await names(`${sel}&status=pending`)).names, [`${p}-wait`]);
      assert.deepEqual((await names(`${sel}&status=behind`)).names, [`${p}-back`, `${p}-bad`, `${p}-run`, `${p}-wait`]);
      const after = await fleet();
      const delta = Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
      assert.deepEqual(delta, { total: 5, online: 5, offline: 0, succeeded: 1, failed: 2, pending: 1, inProgress: 1, behind: 4 });
    });

    test('decommission: out of lists and counts, token revoked, connection closed, activation refuses it, history stays; a new token brings it back', async () => {
      const name = unique('gone');
      const { token, socket } = await connect(name, { role: 'web' });
      const path = storePath('gone-1');
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [name]: path } } });
      const deploymentId = res.json.agents[name].id as string;
      const before = await fleet();

      assert.equal((await api(t, 'DELETE', `/api/v1/agents/${name}`, { token: activate })).status, 403, 'admin only');
      const del = await api(t, 'DELETE', `/api/v1/agents/${name}`, { token: admin });
      assert.equal(del.status, 204, del.text);
      const closed = await socket.closedWithin();
      assert.equal(closed.code, 4401);
      await assert.rejects(register(token, name), /HTTP 401/, 'its bound token is revoked');

      assertError(await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate }), 'DROVER_ERR_AGENT_NOT_FOUND');
      assert.deepEqual(await names(`q=${name}`), { names: [], total: 0 });
      const after = await fleet();
      assert.equal(after['total'], (before['total'] ?? 0) - 1);
      assertError(await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [name]: path } } }), 'DROVER_ERR_UNKNOWN_AGENT');
      assertError(await api(t, 'DELETE', `/api/v1/agents/${name}`, { token: admin }), 'DROVER_ERR_AGENT_NOT_FOUND');
      const history = await api(t, 'GET', `/api/v1/deployments/${deploymentId}`, { token: activate });
      assert.equal(history.status, 200, 'its deployments stay readable');
      assert.equal(history.json.agent, name);
      assert.equal(history.json.status, 'Cancelled', 'the deployment it never started is cancelled');

      await connect(name, { role: 'web' });
      const back = await agentOf(name);
      assert.equal(back.name, name);
      assert.deepEqual(back.labels, { role: 'web' });
    });
  });
}
