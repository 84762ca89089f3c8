/**
 * The workers' shared SQLite write lock (db/cluster-write-lock.ts) and the
 * driver that asks for it (db/sqlite-driver.ts): writes wait for it as a
 * promise, with the event loop free; reads never ask; a transaction holds
 * it from before BEGIN to after COMMIT or ROLLBACK; the primary grants it to
 * one worker at a time, in order, and takes it back from a worker that
 * exits or gives up waiting.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { openDatabase } from '../src/db/connect.js';
import { ClusterWriteLock, WriteLockGranter, type ReleaseWriteLock, type WriteLock, type WriteLockMessage } from '../src/db/cluster-write-lock.js';

/** A lock that records what it was asked, granting in the order asked, each once `open` is called (at once unless `closed`). */
class RecordingLock implements WriteLock {
  readonly events: string[] = [];
  held = false;
  private gate: Promise<void> = Promise.resolve();
  /** Settles when the holder before the next one has released. */
  private previous: Promise<void> = Promise.resolve();
  open: () => void = () => {};

  close(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  async acquire(): Promise<ReleaseWriteLock> {
    this.events.push('acquire');
    const before = this.previous;
    let released = (): void => {};
    this.previous = new Promise((resolve) => (released = resolve));
    await before;
    await this.gate;
    assert.equal(this.held, false, 'granted twice at once');
    this.held = true;
    this.events.push('granted');
    return () => {
      if (!this.held) return;
      this.held = false;
      this.events.push('release');
      released();
    };
  }
}

async function withLockedDatabase(run: (db: Kysely<Record<string, never>>, lock: RecordingLock) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'drover-write-lock-'));
  const lock = new RecordingLock();
  const database = await openDatabase({ dataDir: dir, writeLock: lock });
  const db = database.db as unknown as Kysely<Record<string, never>>;
  try {
    await sql`create table t (v integer)`.execute(db);
    lock.events.length = 0;
    await run(db, lock);
  } finally {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const count = async (db: Kysely<Record<string, never>>) => (await sql<{ n: number }>`select count(*) as n from t`.execute(db)).rows[0]?.n;

describe('SQLite driver with a write lock', () => {
  test('a read asks for nothing; a write outside a transaction holds the lock around itself only', async () => {
    await withLockedDatabase(async (db, lock) => {
      assert.equal(await count(db), 0);
      assert.deepEqual(lock.events, []);
      await sql`insert into t (v) values (1)`.execute(db);
      assert.deepEqual(lock.events, ['acquire', 'granted', 'release']);
      assert.equal(await count(db), 1);
      assert.deepEqual(lock.events, ['acquire', 'granted', 'release']);
    });
  });

  test('a transaction holds it from before BEGIN until COMMIT, and gives it back after a ROLLBACK', async () => {
    await withLockedDatabase(async (db, lock) => {
      await db.transaction().execute(async (tx) => {
        assert.equal(lock.held, true);
        await sql`insert into t (v) values (1)`.execute(tx);
        await sql`insert into t (v) values (2)`.execute(tx);
        assert.equal(await count(tx), 2);
      });
      assert.deepEqual(lock.events, ['acquire', 'granted', 'release'], 'one grant for the whole transaction');
      await assert.rejects(
        db.transaction().execute(async (tx) => {
          await sql`insert into t (v) values (3)`.execute(tx);
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      assert.equal(lock.held, false);
      assert.equal(await count(db), 2);
    });
  });

  test('a write waiting for the lock leaves the event loop free and runs once granted', async () => {
    await withLockedDatabase(async (db, lock) => {
      lock.close();
      let written = false;
      const write = sql`insert into t (v) values (1)`.execute(db).then(() => (written = true));
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      await new Promise((r) => setTimeout(r, 100));
      clearInterval(timer);
      assert.equal(written, false, 'the write did not wait for the lock');
      assert.ok(ticks >= 5, `timers ran while it waited (${ticks} ticks)`);
      lock.open();
      await write;
      assert.equal(await count(db), 1);
    });
  });

  test("the process's reads go on while its write and its transaction wait for the lock; both run once granted, the transaction whole", async () => {
    await withLockedDatabase(async (db, lock) => {
      lock.close();
      const order: string[] = [];
      const write = sql`insert into t (v) values (1)`.execute(db).then(() => order.push('write'));
      const transaction = db
        .transaction()
        .execute(async (tx) => {
          await sql`insert into t (v) values (2)`.execute(tx);
          // Nothing of the process runs inside the transaction: the read below waits for its end.
          await new Promise((r) => setTimeout(r, 20));
          await sql`insert into t (v) values (3)`.execute(tx);
        })
        .then(() => order.push('transaction'));
      await new Promise((r) => setTimeout(r, 20));
      // Under Kysely's own mutex this read waited for the write ahead of it, which waits for the lock.
      assert.equal(await count(db), 0);
      order.push('read');
      lock.open();
      await Promise.all([write, transaction]);
      assert.deepEqual(order, ['read', 'write', 'transaction']);
      assert.equal(await count(db), 3);
      assert.equal(lock.held, false);
    });
  });
});

/** A worker and its IPC channel, joined in memory: what one sends the other receives. */
function pair(): {
  worker: EventEmitter & { send(m: unknown): boolean; isConnected(): boolean };
  channel: EventEmitter & { send(m: WriteLockMessage): boolean };
} {
  const worker = Object.assign(new EventEmitter(), {
    send: (m: unknown) => {
      setImmediate(() => channel.emit('message', m));
      return true;
    },
    isConnected: () => true,
  });
  const channel = Object.assign(new EventEmitter(), {
    send: (m: WriteLockMessage) => {
      setImmediate(() => worker.emit('message', m));
      return true;
    },
  });
  return { worker, channel };
}

describe('write lock between a cluster primary and its workers', () => {
  test('one holder at a time, in the order asked; the next is granted when the holder releases or exits', async () => {
    const granter = new WriteLockGranter();
    const [a, b, c] = [pair(), pair(), pair()];
    for (const p of [a, b, c]) granter.attach(p.worker);
    const [lockA, lockB, lockC] = [a, b, c].map((p) => new ClusterWriteLock(5_000, p.channel));
    const order: string[] = [];
    const releaseA = await lockA!.acquire();
    const waitB = lockB!.acquire().then((release) => (order.push('b'), release));
    const waitC = lockC!.acquire().then((release) => (order.push('c'), release));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(order, [], 'nobody else was granted while a held it');
    releaseA();
    await waitB;
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(order, ['b'], 'b (asked first) got it, and c still waits');
    b.worker.emit('exit');
    await waitC;
    assert.deepEqual(order, ['b', 'c']);
    for (const lock of [lockA, lockB, lockC]) lock!.close();
  });

  test('a worker that waited past its timeout fails as SQLITE_BUSY, and a grant that comes later is handed back', async () => {
    const granter = new WriteLockGranter();
    const [a, b] = [pair(), pair()];
    granter.attach(a.worker);
    granter.attach(b.worker);
    const lockA = new ClusterWriteLock(5_000, a.channel);
    const lockB = new ClusterWriteLock(50, b.channel);
    const releaseA = await lockA.acquire();
    await assert.rejects(lockB.acquire(), (err: Error & { code?: string }) => err.code === 'SQLITE_BUSY' && err.message.includes('held the SQLite write lock'));
    releaseA();
    // b gave up: the lock is free again for a, not stuck with b.
    const again = await Promise.race([lockA.acquire(), new Promise<null>((r) => setTimeout(() => r(null), 1_000))]);
    assert.ok(again, 'the lock came back after the worker that gave up');
    lockA.close();
    lockB.close();
  });
});
