/**
 * A connection the server closes as replaced (4409: another agent of this
 * name connected): one error line naming the other host, the next attempt
 * only after `replacedRetryMs` (not the 1 s backoff that made two agents
 * with one name swap forever); with `onReplaced` returning true (bootstrap),
 * no next attempt at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { PROTOCOL_VERSION } from '@drover/protocol';
import { ServerConnection, type ClosedConnection } from '../src/connection.js';
import { fakeServer } from './fake-server.js';

const REASON = 'replaced by a newer connection of the same agent from host other-host';

function connect(url: string, onReplaced?: (reason: string) => boolean) {
  const lines: string[] = [];
  const sink = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      lines.push(chunk.toString());
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const closed: ClosedConnection[] = [];
  const replaced: string[] = [];
  const connection = new ServerConnection({
    server: url,
    token: () => 'token',
    log,
    hello: () => ({ type: 'hello', protocol: PROTOCOL_VERSION, agent: 'twin', version: 'test', system: 'x86_64-linux', profile: '/p', hostname: 'h' }),
    backoff: { initialMs: 20, maxMs: 50 },
    replacedRetryMs: 5000,
    onReplaced: (reason) => (replaced.push(reason), onReplaced?.(reason) ?? false),
    onRegistered: () => {},
    onMessage: () => {},
    onClosed: (c) => closed.push(c),
  });
  return { connection, lines, closed, replaced };
}

test('replaced: one error line naming the other host, then a long wait instead of reconnecting at once', { timeout: 20_000 }, async () => {
  const server = await fakeServer();
  server.onRegistered = (socket) => socket.close(4409, REASON);
  const c = connect(server.url);
  try {
    c.connection.start();
    for (let i = 0; i < 200 && c.closed.length === 0; i++) await sleep(10);
    await sleep(500); // the 20–50 ms backoff would have reconnected ten times by now
    assert.equal(server.registrations(), 1);
    assert.deepEqual(c.replaced, [REASON]);
    assert.equal(c.closed[0]?.retryInMs, 5000);
    const errors = c.lines.filter((l) => l.includes('DROVER_ERR_AGENT_REPLACED'));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /"level":50.*from host other-host.*Retrying in 5s/);
  } finally {
    c.connection.stop();
    await server.close();
  }
});

test('replaced with onReplaced returning true (--bootstrap): never reconnects', { timeout: 20_000 }, async () => {
  const server = await fakeServer();
  server.onRegistered = (socket) => socket.close(4409, REASON);
  const c = connect(server.url, () => true);
  try {
    c.connection.start();
    for (let i = 0; i < 200 && c.replaced.length === 0; i++) await sleep(10);
    await sleep(300);
    assert.equal(server.registrations(), 1);
    assert.deepEqual(c.replaced, [REASON]);
    assert.equal(c.closed.length, 0, 'no next attempt scheduled');
    assert.equal(c.lines.filter((l) => l.includes('DROVER_ERR_AGENT_REPLACED')).length, 0, 'a handover is not an error');
  } finally {
    c.connection.stop();
    await server.close();
  }
});
