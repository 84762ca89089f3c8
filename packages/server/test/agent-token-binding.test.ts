/**
 * Agent tokens are bound by default (issue 12 §17), over SQLite and
 * PostgreSQL: creating one without an agent name is refused; `unbound: true`
 * (fleet enrolment) makes a token whose first connection claims the name and
 * binds it, so a second name is refused with 4403; tokens left unbound from
 * before keep accepting any name; the token list says which tokens are
 * unbound.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TokenInfo } from '@drover/protocol';
import { assertError, unique, useApiServer } from './api-suite.js';
import { AgentSocket, hello } from './fake-agent.js';
import { api, backendCases, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`agent token binding over ${backend}`, { skip }, () => {
    let t: TestServer;
    let admin: string;
    const { sockets, register } = useApiServer(backend, (s) => ({ t, admin } = s));

    async function listed(id: string): Promise<TokenInfo | undefined> {
      const res = await api(t, 'GET', '/api/v1/tokens', { token: admin });
      assert.equal(res.status, 200, res.text);
      const tokens: TokenInfo[] = res.json.tokens;
      return tokens.find((x) => x.id === id);
    }

    test('an agent token without an agent name (and without unbound) is refused with DROVER_ERR_AGENT_TOKEN_UNBOUND', async () => {
      assertError(await api(t, 'POST', '/api/v1/tokens', { token: admin, body: { kind: 'agent' } }), 'DROVER_ERR_AGENT_TOKEN_UNBOUND', /--agent NAME/);
      assertError(
        await api(t, 'POST', '/api/v1/tokens', { token: admin, body: { kind: 'activate', unbound: true } }),
        'DROVER_ERR_VALIDATION',
        /only agent tokens/,
      );
      assertError(await api(t, 'POST', '/api/v1/tokens', { token: admin, body: { kind: 'agent', agent: 'web-1', unbound: true } }), 'DROVER_ERR_VALIDATION');
      const bound = await api(t, 'POST', '/api/v1/tokens', { token: admin, body: { kind: 'agent', agent: unique('bound') } });
      assert.equal(bound.status, 201, bound.text);
      assert.equal(bound.json.info.agentBinding, 'bound');
      const other = await api(t, 'POST', '/api/v1/tokens', { token: admin, body: { kind: 'activate' } });
      assert.equal(other.json.info.agentBinding, null);
    });

    test('an unbound token: its first connection claims the name, then another name closes with 4403', async () => {
      const created = await api(t, 'POST', '/api/v1/tokens', { token: admin, body: { kind: 'agent', unbound: true, description: 'enrolment' } });
      assert.equal(created.status, 201, created.text);
      const { token, info } = created.json as { token: string; info: TokenInfo };
      assert.equal(info.agent, null);
      assert.equal(info.agentBinding, 'claim');
      assert.equal((await listed(info.id))?.agentBinding, 'claim');
      const first = unique('enrolled');
      const { socket } = await register(token, first);
      socket.close();
      const after = await listed(info.id);
      assert.ok(after);
      assert.equal(after.agent, first, 'the token is bound to the name it claimed');
      assert.equal(after.agentBinding, 'bound');
      const s = await AgentSocket.open(t.wsUrl, token);
      sockets.push(s);
      s.send(hello(unique('intruder')));
      const closed = await s.closedWithin();
      assert.equal(closed.code, 4403);
      assert.ok(closed.reason.includes(first), closed.reason);
      const again = await register(token, first);
      again.socket.close();
    });

    test('a token left unbound from before keeps working for any name and is listed as such', async () => {
      const legacy = await t.mint('agent', { unbound: 'any' });
      for (const name of [unique('any-a'), unique('any-b')]) (await register(legacy.token, name)).socket.close();
      const info = await listed(legacy.id);
      assert.ok(info);
      assert.equal(info.agent, null);
      assert.equal(info.agentBinding, 'any');
    });
  });
}
