/**
 * The connect/disconnect lines (hub/connection-log.ts): one line per agent up
 * to the burst of a window, then one summary when the window ends, and a new
 * window names agents again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { ConnectionLog } from '../src/hub/connection-log.js';

function capture(level: 'info' | 'debug'): { log: pino.Logger; lines: { level: number; msg: string; connected?: number; disconnected?: number }[] } {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { log: pino({ level }, sink), lines };
}

const INFO = 30;
const DEBUG = 20;

test('past the burst agents are counted, and the window ends with one summary line', async () => {
  const { log, lines } = capture('info');
  let now = 1_000;
  const connections = new ConnectionLog(log, { windowMs: 60, burst: 3 }, () => now);
  for (let i = 0; i < 10; i++) connections.connected({ agent: `a${i}`, workspace: 'default', version: '1' });
  connections.disconnected({ agent: 'a0' });
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['agent connected', 'agent connected', 'agent connected'],
    'the first three are named, the rest wait for the summary',
  );
  await sleep(120);
  const summary = lines[lines.length - 1];
  assert.ok(summary, 'a summary line');
  assert.equal(summary.level, INFO);
  assert.equal(summary.connected, 7);
  assert.equal(summary.disconnected, 1);
  assert.match(summary.msg, /^7 agents connected and 1 disconnected in 0\.06 s without a line of their own/);
  // A new window names agents again.
  now += 60;
  connections.disconnected({ agent: 'a1' });
  assert.equal(lines.at(-1)?.msg, 'agent disconnected');
  assert.equal(lines.length, 5);
});

test('the agents past the burst are still logged one by one at debug level', () => {
  const { log, lines } = capture('debug');
  const connections = new ConnectionLog(log, { windowMs: 60_000, burst: 1 }, () => 0);
  connections.connected({ agent: 'a', workspace: 'default', version: '1' });
  connections.connected({ agent: 'b', workspace: 'default', version: '1' });
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [
      [INFO, 'agent connected'],
      [DEBUG, 'agent connected'],
    ],
  );
  connections.flush();
  assert.equal(lines.at(-1)?.connected, 1, 'flush says the count at once (the hub flushes on close)');
  connections.flush();
  assert.equal(lines.length, 3, 'a second flush has nothing to say');
});

test('after close the window is summarised at once and later lines go to debug alone, with no timer left', () => {
  const { log, lines } = capture('debug');
  const connections = new ConnectionLog(log, { windowMs: 60_000, burst: 1 }, () => 0);
  connections.connected({ agent: 'a', workspace: 'default', version: '1' });
  connections.connected({ agent: 'b', workspace: 'default', version: '1' });
  connections.close();
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg.slice(0, 25)]),
    [
      [INFO, 'agent connected'],
      [DEBUG, 'agent connected'],
      [INFO, '1 agents connected and 0 '],
    ],
  );
  connections.disconnected({ agent: 'a' });
  connections.disconnected({ agent: 'b' });
  assert.deepEqual(
    lines.slice(3).map((l) => [l.level, l.msg]),
    [
      [DEBUG, 'agent disconnected'],
      [DEBUG, 'agent disconnected'],
    ],
    'the sockets a shutdown closes are not named at info, one by one',
  );
  connections.close();
  assert.equal(lines.length, 5, 'nothing was left to summarise');
});
