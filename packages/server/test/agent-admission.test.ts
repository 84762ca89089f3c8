/**
 * Admission of agent sockets (http/routes/agent-admission.ts): a server
 * process that holds `maxAgentSockets` answers the next agent's upgrade 503
 * DROVER_ERR_AGENTS_FULL with a Retry-After of 1–5 s, still refuses a bad
 * token with 401 first, and takes an agent again once a socket closed; a
 * worker of `--workers N` holding more than its share answers 503
 * DROVER_ERR_AGENTS_UNEVEN with a Retry-After of 1–2 s; an admitted socket
 * that never says hello is closed 4408 once `helloTimeoutMs` passed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@drover/test-support';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AGENTS_FULL_RETRY_SECONDS, AGENTS_UNEVEN_RETRY_SECONDS, admitAgentSocket } from '../src/http/routes/agent-admission.js';
import { CLOSE_CODES, DroverError } from '@drover/protocol';
import { createLogger } from '../src/logger.js';
import { WebSocket } from 'ws';
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

test('a worker holding more than its share refuses with DROVER_ERR_AGENTS_UNEVEN and a short Retry-After', async () => {
  let refusal: 'full' | 'uneven' | null = 'uneven';
  const admit = admitAgentSocket({ hub: { refusal: () => refusal, size: 0 }, log: createLogger('silent') });
  const headers = new Map<string, string>();
  const reply = { header: (name: string, value: string) => headers.set(name, value) } as unknown as FastifyReply;
  const request = { raw: { socket: {} } } as unknown as FastifyRequest;

  await assert.rejects(
    async () => admit.call(undefined as never, request, reply),
    (err: unknown) => err instanceof DroverError && err.code === 'DROVER_ERR_AGENTS_UNEVEN',
  );
  const seconds = Number(headers.get('retry-after'));
  assert.ok(seconds >= AGENTS_UNEVEN_RETRY_SECONDS.min && seconds <= AGENTS_UNEVEN_RETRY_SECONDS.max, `Retry-After: ${headers.get('retry-after')}`);

  refusal = null;
  headers.clear();
  await admit.call(undefined as never, request, reply);
  assert.equal(headers.size, 0, 'an admitted agent gets no Retry-After');
});

test('an admitted socket that sends no hello is closed 4408 after helloTimeoutMs, one that does is kept', async (t) => {
  const server = await startTestServer('sqlite', { server: { helloTimeoutMs: 300 } });
  t.after(() => server.close());
  const { token } = await server.mint('agent');
  const silent = await AgentSocket.open(server.wsUrl, token);
  const { socket: registered } = await AgentSocket.register(server.wsUrl, token, 'says-hello');
  t.after(() => registered.socket.close());
  const closed = await silent.closed;
  assert.equal(closed.code, CLOSE_CODES.helloTimeout);
  assert.match(closed.reason, /no hello/);
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(registered.socket.readyState, WebSocket.OPEN, 'a socket that said hello in time stays open');
});
