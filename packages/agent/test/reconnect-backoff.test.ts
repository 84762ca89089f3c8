/**
 * Reconnecting to a server that keeps closing right after registration (a
 * frame it cannot store, 1011): the connection's backoff keeps growing
 * instead of starting over at every registration, and starts over only
 * after a connection stayed registered `healthyAfterMs`; an agent whose
 * replay keeps being refused reconnects a bounded number of times and logs
 * one error naming the deployment.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { PROTOCOL_VERSION, parseAgentName } from '@drover/protocol';
import { Agent } from '../src/agent.js';
import { ServerConnection, type ClosedConnection } from '../src/connection.js';
import { appendEntry } from '../src/journal/entry.js';
import { deploymentDir, writeOrder } from '../src/state.js';
import { fakeServer } from './fake-server.js';
import { finished, ID_A, scratch, started } from './journal-fixtures.js';

const tmp = scratch('drover-backoff-test-');
after(() => tmp.remove());
const silent = pino({ level: 'silent' });
const name = parseAgentName('poisoned');

test('the backoff grows while each connection is closed soon after registration, and starts over after a healthy one', async () => {
  const server = await fakeServer();
  let closes = 0;
  // The first five connections are closed at once, as after a frame the server cannot store; the sixth stays.
  server.onRegistered = (socket) => {
    if (server.registrations() <= 5) socket.close(1011, 'server error while handling a message; reconnect and replay');
  };
  const closed: ClosedConnection[] = [];
  const connection = new ServerConnection({
    server: server.url,
    token: () => 'token',
    log: silent,
    hello: () => ({ type: 'hello', protocol: PROTOCOL_VERSION, agent: name, version: 'test', system: 'x86_64-linux', profile: '/p', hostname: 'h' }),
    backoff: { initialMs: 20, maxMs: 10_000 },
    healthyAfterMs: 200,
    onRegistered: () => {},
    onMessage: () => {},
    onClosed: (c) => {
      closed.push(c);
      closes++;
    },
  });
  try {
    connection.start();
    while (server.registrations() < 6) await sleep(10);
    await sleep(300); // the sixth connection is healthy now
    server.dropConnection();
    while (closes < 6) await sleep(10);
  } finally {
    connection.stop();
    await server.close();
  }
  const retries = closed.map((c) => c.retryInMs);
  closed.slice(0, 5).forEach((c, i) => {
    assert.equal(c.healthy, false);
    const cap = 20 * 2 ** i;
    assert.ok(
      c.retryInMs >= cap / 2 && c.retryInMs <= cap,
      `retry ${i + 1} after a refused replay: ${c.retryInMs} ms, expected within [${cap / 2}, ${cap}] (all: ${retries.join(', ')})`,
    );
  });
  assert.equal(closed[5]?.healthy, true);
  assert.ok(closed[5].retryInMs <= 20, `after a healthy connection the backoff starts over (all: ${retries.join(', ')})`);
});

test('an agent whose replay is refused every time backs off and logs one error naming the deployment', async () => {
  const server = await fakeServer();
  server.onFrame = (message, socket) => {
    if (message.type !== 'hello') socket.close(1011, 'server error while handling a message; reconnect and replay');
  };
  const stateDir = tmp.dir();
  const dir = deploymentDir(stateDir, ID_A);
  writeOrder(dir, {
    deployment: { id: ID_A, index: 1, storePath: `/nix/store/${'a'.repeat(32)}-p`, rollbackScript: null, cache: null },
    agent: name,
    profile: '/p',
    cache: null,
    server: server.url,
    system: 'x86_64-linux',
  });
  appendEntry(dir, started(ID_A));
  appendEntry(dir, finished(ID_A));

  const logged: { level: number; msg: string; deployments?: string[] }[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  const agent = new Agent({
    name,
    server: server.url,
    token: () => 'token',
    profile: '/p',
    stateDir,
    log,
    pollMs: 20,
    backoff: { initialMs: 20, maxMs: 10_000 },
  });
  try {
    agent.start();
    await sleep(1500);
  } finally {
    agent.stop();
    await server.close();
  }
  // Growing delays (10–20, 20–40, … ms) allow at most 8 connections in 1.5 s; starting over each time would allow ~100.
  assert.ok(server.registrations() >= 3 && server.registrations() <= 8, `${server.registrations()} registrations in 1.5 s`);
  const errors = logged.filter((l) => l.level >= 50 && l.msg.includes('after the replay of deployment'));
  assert.equal(errors.length, 1, `one error line, not one per attempt: ${JSON.stringify(errors)}`);
  assert.deepEqual(errors[0]?.deployments, [ID_A]);
  assert.match(errors[0].msg, new RegExp(`deployment ${ID_A} \\d+ times in a row`));
});
