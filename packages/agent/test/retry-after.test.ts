/**
 * A server that answers the websocket upgrade 503 with a Retry-After (a
 * replica holding all the agent sockets it may, DROVER_ERR_AGENTS_FULL): the
 * connection comes back after the delay it was asked for, not after its own
 * backoff, and a 503 without the header falls back to the backoff.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { PROTOCOL_VERSION, parseAgentName } from '@drover/protocol';
import { ServerConnection, type ClosedConnection } from '../src/connection.js';

async function refusingServer(retryAfter: string | null): Promise<{ url: string; upgrades: () => number; close: () => Promise<void> }> {
  let upgrades = 0;
  const server = createServer();
  server.on('upgrade', (_req, socket) => {
    upgrades++;
    const body = JSON.stringify({ code: 'DROVER_ERR_AGENTS_FULL', message: 'full', hint: 'retry' });
    socket.end(
      `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `${retryAfter === null ? '' : `retry-after: ${retryAfter}\r\n`}connection: close\r\n\r\n${body}`,
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return {
    url: `http://127.0.0.1:${address.port}`,
    upgrades: () => upgrades,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function firstCloses(retryAfter: string | null, count: number): Promise<{ closed: ClosedConnection[]; problems: string[] }> {
  const server = await refusingServer(retryAfter);
  const closed: ClosedConnection[] = [];
  const problems: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void problems.push(line) });
  const connection = new ServerConnection({
    server: server.url,
    token: () => 'token',
    log,
    hello: () => ({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      agent: parseAgentName('busy'),
      version: 'test',
      system: 'x86_64-linux',
      profile: '/p',
      hostname: 'h',
    }),
    backoff: { initialMs: 20, maxMs: 10_000 },
    onRegistered: () => {},
    onMessage: () => {},
    onClosed: (c) => void closed.push(c),
  });
  try {
    connection.start();
    for (let i = 0; i < 300 && closed.length < count; i++) await sleep(10);
  } finally {
    connection.stop();
    await server.close();
  }
  return { closed, problems };
}

test('a 503 with Retry-After is retried after the delay asked for, not the backoff', async () => {
  const { closed, problems } = await firstCloses('1', 1);
  assert.equal(closed.length, 1);
  const retry = closed[0]!.retryInMs;
  assert.ok(retry >= 1000 && retry <= 2000, `retry in ${retry} ms, expected 1–2 s (Retry-After: 1 plus up to 1 s of jitter)`);
  assert.ok(
    problems.some((p) => p.includes('DROVER_ERR_AGENTS_FULL') && p.includes('as it asked')),
    problems.join(''),
  );
});

test('a 503 without Retry-After falls back to the backoff', async () => {
  const { closed } = await firstCloses(null, 2);
  assert.equal(closed.length, 2);
  assert.ok(closed[0]!.retryInMs <= 20 && closed[1]!.retryInMs <= 40, `retries ${closed.map((c) => c.retryInMs).join(', ')} ms`);
});
