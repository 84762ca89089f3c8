/**
 * The agent's outbox (outbox.ts) against a fake connection: nothing is sent
 * before registration; after (re)registration every unacknowledged journal
 * is sent from its first line, log lines batched; later pumps send only what
 * was appended; a half-written last line waits until complete; an outcome is
 * noticed while disconnected; deployment.ack forgets a finished deployment
 * (and marks it reported) but not one without an outcome; a send failing
 * midway is made good by the next replay; a previous-version journal is
 * forwarded as protocol messages.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync } from 'node:fs';
import { pino } from 'pino';
import type { AgentMessage } from '@drover/protocol';
import { appendEntry } from '../src/journal/entry.js';
import { Outbox, type OutboxConnection } from '../src/outbox.js';
import { files } from '../src/state.js';
import { finished, ID_A, ID_B, legacyLines, log, logFrame, scratch, started } from './journal-fixtures.js';

const tmp = scratch('drover-outbox-test-');
after(() => tmp.remove());

class FakeConnection implements OutboxConnection {
  isRegistered = false;
  sent: AgentMessage[] = [];
  /** How many more sends succeed before the connection "goes away" (Infinity: never). */
  sendsLeft = Infinity;

  send(message: AgentMessage): boolean {
    if (!this.isRegistered || this.sendsLeft <= 0) return false;
    this.sendsLeft--;
    this.sent.push(message);
    return true;
  }

  /** What was sent since the last call. */
  take(): AgentMessage[] {
    const sent = this.sent;
    this.sent = [];
    return sent;
  }

  register(outbox: Outbox): void {
    this.isRegistered = true;
    this.sendsLeft = Infinity;
    outbox.replay();
  }
}

function setup(): { connection: FakeConnection; outbox: Outbox } {
  const connection = new FakeConnection();
  return { connection, outbox: new Outbox(connection, pino({ level: 'silent' })) };
}

test('nothing is sent before registration; registration sends the journal from its first line, log lines batched', () => {
  const { connection, outbox } = setup();
  const dir = tmp.dir();
  appendEntry(dir, started(ID_A));
  for (let i = 0; i < 3; i++) appendEntry(dir, log(ID_A, i, `line ${i}`));
  outbox.add(ID_A, dir);
  outbox.pump();
  assert.deepEqual(connection.take(), []);

  connection.register(outbox);
  assert.deepEqual(connection.take(), [started(ID_A), logFrame(ID_A, 0, 3)]);
  outbox.pump();
  assert.deepEqual(connection.take(), [], 'nothing new, nothing sent');
});

test('a pump sends only what was appended since; a half-written last line waits until complete', () => {
  const { connection, outbox } = setup();
  const dir = tmp.dir();
  connection.register(outbox);
  outbox.add(ID_A, dir);
  assert.deepEqual(connection.take(), [], 'no journal yet');

  appendEntry(dir, started(ID_A));
  outbox.pump();
  assert.deepEqual(connection.take(), [started(ID_A)]);

  const line = JSON.stringify(log(ID_A, 0, 'half')) + '\n';
  appendFileSync(files.events(dir), line.slice(0, 20));
  outbox.pump();
  assert.deepEqual(connection.take(), [], 'partial line not sent');
  appendFileSync(files.events(dir), line.slice(20));
  outbox.pump();
  assert.deepEqual(connection.take(), [log(ID_A, 0, 'half')]);
});

test('the outcome is noticed while disconnected and sent on registration', () => {
  const { connection, outbox } = setup();
  const dir = tmp.dir();
  outbox.add(ID_A, dir);
  assert.equal(outbox.outcome(ID_A), null);
  appendEntry(dir, started(ID_A));
  appendEntry(dir, finished(ID_A));
  assert.deepEqual(outbox.refresh(ID_A), finished(ID_A));
  assert.deepEqual(connection.take(), []);
  connection.register(outbox);
  assert.deepEqual(connection.take(), [started(ID_A), finished(ID_A)]);
});

test('deployment.ack forgets a finished deployment and marks it reported; an early ack is ignored', () => {
  const { connection, outbox } = setup();
  const dir = tmp.dir();
  connection.register(outbox);
  outbox.add(ID_A, dir);
  appendEntry(dir, started(ID_A));
  outbox.pump();
  assert.equal(outbox.acknowledge(ID_A), false, 'no outcome yet: kept');
  assert.equal(existsSync(files.reported(dir)), false);
  appendEntry(dir, finished(ID_A));
  outbox.pump();
  connection.take();

  assert.equal(outbox.acknowledge(ID_A), true);
  assert.equal(existsSync(files.reported(dir)), true);
  assert.equal(outbox.size, 0);
  assert.equal(outbox.acknowledge(ID_A), false, 'a second ack finds nothing');
  connection.register(outbox);
  assert.deepEqual(connection.take(), [], 'forgotten: not replayed');
});

test('replay after a reconnect resends exactly what was not acknowledged', () => {
  const { connection, outbox } = setup();
  const a = tmp.dir();
  const b = tmp.dir();
  connection.register(outbox);
  outbox.add(ID_A, a);
  outbox.add(ID_B, b);
  appendEntry(a, started(ID_A));
  appendEntry(a, finished(ID_A));
  appendEntry(b, started(ID_B));
  appendEntry(b, log(ID_B, 0, 'line 0'));
  outbox.pump();
  assert.deepEqual(connection.take(), [started(ID_A), finished(ID_A), started(ID_B), logFrame(ID_B, 0, 1)]);
  assert.equal(outbox.acknowledge(ID_A), true);

  connection.isRegistered = false; // the connection drops; the runner goes on
  appendEntry(b, log(ID_B, 1, 'line 1'));
  appendEntry(b, finished(ID_B));
  outbox.pump();
  assert.deepEqual(connection.take(), []);
  assert.deepEqual(outbox.outcome(ID_B), finished(ID_B));

  connection.register(outbox);
  assert.deepEqual(connection.take(), [started(ID_B), logFrame(ID_B, 0, 2), finished(ID_B)]);
  outbox.pump();
  assert.deepEqual(connection.take(), [], 'then nothing twice');
});

test('a send failing midway stops that pump; the next registration resends from the start', () => {
  const { connection, outbox } = setup();
  const dir = tmp.dir();
  connection.register(outbox);
  outbox.add(ID_A, dir);
  appendEntry(dir, started(ID_A));
  appendEntry(dir, finished(ID_A));
  connection.sendsLeft = 1;
  outbox.pump();
  assert.deepEqual(connection.take(), [started(ID_A)]);
  assert.deepEqual(outbox.outcome(ID_A), finished(ID_A), 'read even though not sent');
  connection.register(outbox);
  assert.deepEqual(connection.take(), [started(ID_A), finished(ID_A)]);
});

test('many log lines go out in frames of at most MAX_LOG_LINES_PER_FRAME, in order', () => {
  const { connection, outbox } = setup();
  const dir = tmp.dir();
  for (let i = 0; i < 600; i++) appendEntry(dir, log(ID_A, i, `line ${i}`));
  outbox.add(ID_A, dir);
  connection.register(outbox);
  assert.deepEqual(connection.take(), [logFrame(ID_A, 0, 256), logFrame(ID_A, 256, 512), logFrame(ID_A, 512, 600)]);
});

test('a journal written by the previous agent version is forwarded as protocol messages', () => {
  const { connection, outbox } = setup();
  const dir = tmp.dir();
  appendFileSync(files.events(dir), [legacyLines.started, legacyLines.log(0, 'line 0'), legacyLines.finished, ''].join('\n'));
  outbox.add(ID_A, dir);
  assert.deepEqual(outbox.outcome(ID_A), finished(ID_A));
  connection.register(outbox);
  assert.deepEqual(connection.take(), [started(ID_A), logFrame(ID_A, 0, 1), finished(ID_A)]);
});
