/**
 * Each worker's share of the agent sockets (cluster-share.ts): the rule a
 * worker admits by, and the counts going from the workers through the
 * primary to the others — a worker holding more than the average plus the
 * slack refuses, whatever the agent waited; one that stopped reporting is
 * left out, one that exited too.
 */
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@drover/test-support';
import { SocketCounts, STALE_MS, takesOneMore, WorkerShare, type SharingWorker, type WorkerChannel } from '../src/cluster-share.js';

test('a worker takes one more agent unless it holds the average plus a tenth of it (at least one) or more', () => {
  assert.equal(takesOneMore(0, []), true, 'a lone worker takes every agent');
  assert.equal(takesOneMore(1, [0]), true);
  assert.equal(takesOneMore(2, [0]), false, 'the slack is one at least: four agents on two workers end up two and two');
  assert.equal(takesOneMore(0, [100, 100]), true, 'the worker with the fewest always takes one');
  // 100,000 agents over six workers: a tenth of the average is the slack.
  assert.equal(takesOneMore(18_000, [15_000, 16_700, 16_800, 17_000, 16_000]), true);
  assert.equal(takesOneMore(18_500, [15_000, 16_700, 16_800, 17_000, 16_000]), false);
  // One worker lagging (waiting for SQLite's write lock) does not make the others turn agents away.
  assert.equal(takesOneMore(16_900, [12_000, 16_800, 17_000, 16_700, 16_600]), true);
});

test('a worker past its share refuses by the counts alone, and ignores a malformed message', () => {
  const listeners = new Set<(message: unknown) => void>();
  const channel: WorkerChannel = {
    on: (_event, listener) => listeners.add(listener),
    off: (_event, listener) => listeners.delete(listener),
  };
  let holds = 10;
  const share = new WorkerShare(() => holds, channel);
  try {
    const tell = (counts: unknown) => {
      for (const listener of listeners) listener({ drover: 'agent-sockets-elsewhere', counts });
    };
    tell([0]);
    assert.equal(share.admits(), false, 'ten against none: past its share');
    tell([-1]);
    assert.equal(share.admits(), false, 'a malformed message is ignored');
    tell([10]);
    assert.equal(share.admits(), true, 'even again');
    holds = 14;
    assert.equal(share.admits(), false, 'its own count is read fresh at each ask');
  } finally {
    share.close();
  }
  assert.equal(listeners.size, 0, 'close stops listening');
});

/** A worker process as both sides see it: the primary's Worker and the worker's own `process` channel. */
class FakeWorker extends EventEmitter implements SharingWorker {
  connected = true;
  readonly channel: WorkerChannel;
  readonly send: SharingWorker['send'];

  constructor(readonly id: number) {
    super();
    const fromPrimary = new EventEmitter();
    this.channel = {
      send: (message) => {
        // As IPC: the primary hears it on a later turn.
        setImmediate(() => this.emit('message', message));
        return true;
      },
      on: (event, listener) => fromPrimary.on(event, listener),
      off: (event, listener) => fromPrimary.off(event, listener),
    };
    this.send = (message) => {
      setImmediate(() => fromPrimary.emit('message', message));
      return true;
    };
  }

  isConnected(): boolean {
    return this.connected;
  }
}

test('the counts go through the primary: the fuller worker refuses until the other stops reporting or exits', async (t) => {
  let now = 1_000_000;
  const counts = new SocketCounts(() => now);
  t.after(() => counts.close());
  const a = new FakeWorker(1);
  const b = new FakeWorker(2);
  const aHolds = 5;
  let bHolds = 0;
  const shareA = new WorkerShare(() => aHolds, a.channel);
  const shareB = new WorkerShare(() => bHolds, b.channel);
  t.after(() => {
    shareA.close();
    shareB.close();
  });
  counts.attach(a);
  counts.attach(b);

  assert.equal(shareA.admits(), true, 'before any counts arrived, a worker takes agents');
  await waitFor('worker A to hear that B holds none', () => (shareA.admits() ? null : true), 5_000);
  assert.equal(shareB.admits(), true);

  bHolds = 4;
  await waitFor('worker A to hear that B caught up', () => (shareA.admits() ? true : null), 5_000);

  // B's event loop is stuck: its count goes stale and A stops deferring to it.
  bHolds = 0;
  await waitFor('worker A to hear that B holds none again', () => (shareA.admits() ? null : true), 5_000);
  shareB.close();
  now += STALE_MS + 1;
  counts.tell();
  await waitFor('worker A to leave the silent worker out', () => (shareA.admits() ? true : null), 5_000);

  // A worker that exited is left out at once.
  const c = new FakeWorker(3);
  counts.attach(c);
  const shareC = new WorkerShare(() => 0, c.channel);
  t.after(() => shareC.close());
  await waitFor('worker A to hear of C', () => (shareA.admits() ? null : true), 5_000);
  c.emit('exit', 0, null);
  await waitFor('worker A to forget C', () => (shareA.admits() ? true : null), 5_000);
});
