/**
 * Admission of agent sockets (http/routes/agent-admission.ts): a server
 * process that holds `maxAgentSockets` answers the next agent's upgrade 503
 * DROVER_ERR_AGENTS_FULL with a Retry-After of 1–5 s, still refuses a bad
 * token with 401 first, and takes an agent again once a socket closed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@drover/test-support';
import { AGENTS_FULL_RETRY_SECONDS } from '../src/http/routes/agent-admission.js';
import { AgentSocket, refusedUpgrade } from './fake-agent.js';
import { startTestServer } from './support.js';

test('past maxAgentSockets an upgrade gets 503 with a Retry-After, and a freed socket admits the next agent', async (t) => {
  const server = await startTestServer('sqlite', { server: { maxAgentSockets: 2 } });
  t.after(() => server.close());
  const { token } = await server.mint('agent');
  const first = await AgentSocket.register(server.wsUrl, token, 'full-1');
  const second = await AgentSocket.register(server.wsUrl, token, 'full-2');
  t.after(() => second.socket.close());

  const refused = await refusedUpgrade(server.wsUrl, token);
  assert.equal(refused.status, 503);
  assert.equal(refused.body.code, 'DROVER_ERR_AGENTS_FULL');
  assert.match(refused.body.hint ?? '', /LimitNOFILE/);
  const seconds = Number(refused.headers['retry-after']);
  assert.ok(seconds >= AGENTS_FULL_RETRY_SECONDS.min && seconds <= AGENTS_FULL_RETRY_SECONDS.max, `Retry-After: ${refused.headers['retry-after']}`);

  // The token is checked first: a stranger learns nothing of the load.
  assert.equal((await refusedUpgrade(server.wsUrl, 'not-a-token')).status, 401);

  first.socket.close();
  const third = await waitFor('a freed socket to admit the next agent', () => AgentSocket.register(server.wsUrl, token, 'full-3').catch(() => null), 10_000);
  third.socket.close();
});
