/**
 * Agents over SQLite and PostgreSQL: an unknown agent (404), deploying to a
 * declared agent before it connects, a token bound to another agent (4403),
 * a second connection replacing the first (4409, naming the new host; a
 * conflict when the hosts differ), connections closing together, and the
 * problems an agent's hello carries.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, unique, useApiServer } from './api-suite.js';
import { waitFor } from '@drover/test-support';
import { AgentSocket, hello } from './fake-agent.js';
import { api, backendCases, storePath, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`agents over ${backend}`, { skip }, () => {
    let t: TestServer;
    let activate: string;
    const { sockets, register } = useApiServer(backend, (s) => ({ t, activate } = s));

    test('agent not found → 404 DROVER_ERR_AGENT_NOT_FOUND', async () => {
      assertError(await api(t, 'GET', '/api/v1/agents/never-seen', { token: activate }), 'DROVER_ERR_AGENT_NOT_FOUND', /never-seen/);
    });

    test('an agent named by a bound token can be deployed to before it connects, and gets the deployment on hello', async () => {
      const name = unique('later');
      const token = (await t.mint('agent', { agent: name })).token;
      const path = storePath('first-boot');
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [name]: path } } });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.json.agents[name].online, false);
      assert.equal(res.json.agents[name].lastSeenAt, null);
      const { socket: s } = await register(token, name);
      const deploy = await s.next('deploy');
      assert.deepEqual(deploy.deployment, {
        id: res.json.agents[name].id,
        index: 1,
        storePath: path,
        rollbackScript: null,
        cache: null,
        wantDiff: true,
        secrets: [],
      });
      s.close();
    });

    test('a token bound to agent "a" used by agent "b" closes with 4403', async () => {
      const a = unique('bound-a');
      const b = unique('bound-b');
      const s = await AgentSocket.open(t.wsUrl, (await t.mint('agent', { agent: a })).token);
      sockets.push(s);
      s.send(hello(b));
      const closed = await s.closedWithin();
      assert.equal(closed.code, 4403);
      assert.ok(closed.reason.includes(a), closed.reason);
      assertError(await api(t, 'GET', `/api/v1/agents/${b}`, { token: activate }), 'DROVER_ERR_AGENT_NOT_FOUND');
    });

    test('a second connection of the same agent replaces the first (4409)', async () => {
      const name = unique('twice');
      const token = (await t.mint('agent', { agent: name })).token;
      const { socket: older } = await register(token, name);
      const { socket: newer, registered } = await register(token, name);
      const closed = await older.closedWithin();
      assert.equal(closed.code, 4409);
      const agent = await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate });
      assert.equal(agent.json.id, registered.agentId);
      assert.equal(agent.json.online, true, 'the replaced connection closing does not mark the agent offline');
      newer.close();
    });

    test('replaced from another host: 4409 names it, and the agent is flagged with the conflict (hosts, when)', async () => {
      const name = unique('twin');
      const token = (await t.mint('agent', { agent: name })).token;
      const { socket: older } = await register(token, name, { hostname: 'host-a' });
      const before = await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate });
      assert.equal(before.json.conflict, null, 'one connection: no conflict');
      const { socket: newer } = await register(token, name, { hostname: 'host-b' });
      const closed = await older.closedWithin();
      assert.equal(closed.code, 4409);
      assert.equal(closed.reason, 'replaced by a newer connection of the same agent from host host-b');
      const agent = await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate });
      assert.deepEqual(agent.json.conflict.hostnames, ['host-a', 'host-b']);
      assert.ok(Date.now() - Date.parse(agent.json.conflict.at) < 60_000);
      const list = await api(t, 'GET', `/api/v1/agents?q=${name}`, { token: activate });
      assert.deepEqual(list.json.agents[0].conflict.hostnames, ['host-a', 'host-b']);
      newer.close();
    });

    test('connections that close together are all recorded offline, but not an agent whose closed connection was already replaced', async () => {
      const names = Array.from({ length: 30 }, (_, i) => unique(`cut-${i}`));
      const twice = unique('cut-replaced');
      const tokens = new Map(await Promise.all([...names, twice].map(async (n) => [n, (await t.mint('agent', { agent: n })).token] as const)));
      const token = (name: string): string => tokens.get(name) ?? '';
      const fleet = await Promise.all(names.map(async (n) => (await register(token(n), n)).socket));
      const { socket: older } = await register(token(twice), twice);
      const { socket: newer } = await register(token(twice), twice);
      // The replaced connection closes (4409) while the fleet's connections drop, all in one turn.
      for (const s of fleet) s.close();
      assert.equal((await older.closedWithin()).code, 4409);
      const online = async (name: string): Promise<boolean> => (await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate })).json.online as boolean;
      await waitFor('every closed connection to be recorded', async () => ((await Promise.all(names.map(online))).every((o) => !o) ? true : null), 10_000, 50);
      assert.equal(await online(twice), true, 'its newer connection is open');
      newer.close();
      await waitFor('the newer connection to be recorded closed', async () => ((await online(twice)) ? null : true), 10_000, 50);
    });

    test("the problems of an agent's hello are listed until an agent.problems frame or a hello without them", async () => {
      const name = unique('broken');
      const token = (await t.mint('agent', { agent: name })).token;
      const problems = ['Nix is not on PATH (nix not found in PATH=/bin): install Nix 2.8 or newer'];
      const problemsNow = async () => (await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate })).json.problems as string[];
      const { socket: first } = await register(token, name, { problems });
      assert.deepEqual(await problemsNow(), problems);
      first.send({ type: 'agent.problems', problems: [] });
      await waitFor('the fixed problems to be stored', async () => ((await problemsNow()).length === 0 ? true : null), 5000, 50);
      first.send({ type: 'agent.problems', problems });
      await waitFor('the problems to be stored again', async () => ((await problemsNow()).length === 1 ? true : null), 5000, 50);
      first.close();
      await first.closedWithin();
      const { socket: fixed } = await register(token, name);
      assert.deepEqual(await problemsNow(), []);
      fixed.close();
    });
  });
}
