/**
 * Agents over SQLite and PostgreSQL: an unknown agent (404), deploying to a
 * declared agent before it connects, a token bound to another agent (4403),
 * and a second connection replacing the first (4409).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, unique, useApiServer } from './api-suite.js';
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
      assert.deepEqual(deploy.deployment, { id: res.json.agents[name].id, index: 1, storePath: path, rollbackScript: null, cache: null });
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
  });
}
