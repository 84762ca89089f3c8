/**
 * Batched reads (db/batched-read.ts): keys asked for in one turn of the
 * event loop share one read that starts after the last of them asked; a key
 * asked for once that read began gets a read of its own; a failed read
 * fails every caller of its batch, and only those. With a window, keys
 * asked for in several turns share a read, up to its key limit; a serial
 * window writes one batch at a time, and what came meanwhile goes next,
 * together, split at the key limit.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Batched } from '../src/db/batched-read.js';

describe('batched hello reads', () => {
  test('one read for the keys of one turn, read after every one of them asked', async () => {
    const reads: string[][] = [];
    let asked = 0;
    let askedWhenRead = -1;
    const batched = new Batched<string, number>(async (keys) => {
      reads.push([...keys]);
      askedWhenRead = asked;
      return new Map(keys.filter((k) => k !== 'none').map((k) => [k, k.length]));
    });
    const ask = (key: string) => {
      asked++;
      return batched.load(key);
    };
    const answers = await Promise.all([ask('a'), ask('bb'), ask('a'), ask('none')]);
    assert.deepEqual(answers, [1, 2, 1, undefined]);
    assert.deepEqual(reads, [['a', 'bb', 'none']]);
    assert.equal(askedWhenRead, 4, 'the read started after all four asked');
    assert.equal(await ask('ccc'), 3);
    assert.deepEqual(reads[1], ['ccc'], 'a later key gets a read of its own');
  });

  test('a failed read fails the callers of its batch, and the next batch reads again', async () => {
    let fail = true;
    const batched = new Batched<string, string>(async (keys) => {
      if (fail) throw new Error('database gone');
      return new Map(keys.map((k) => [k, k]));
    });
    const results = await Promise.allSettled([batched.load('x'), batched.load('y')]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    fail = false;
    assert.equal(await batched.load('x'), 'x');
  });

  test('a window gathers the keys of several turns into one read, and a full batch is read at once', async () => {
    const reads: string[][] = [];
    const batched = new Batched<string, string>(
      async (keys) => {
        reads.push([...keys]);
        return new Map(keys.map((k) => [k, k]));
      },
      { windowMs: 30, maxKeys: 3 },
    );
    const first = batched.load('a');
    await new Promise((resolve) => setImmediate(resolve));
    const second = batched.load('b');
    assert.deepEqual(await Promise.all([first, second]), ['a', 'b']);
    assert.deepEqual(reads, [['a', 'b']], 'two turns, one read');
    // A window far longer than the test may take: only a full batch can be read before it ends.
    const full = new Batched<string, string>(async (keys) => new Map(keys.map((k) => [k, k])), { windowMs: 600_000, maxKeys: 3 });
    const timeout = new Promise<'window waited'>((resolve) => setTimeout(() => resolve('window waited'), 5000).unref());
    const answers = await Promise.race([Promise.all([full.load('c'), full.load('d'), full.load('e')]), timeout]);
    assert.deepEqual(answers, ['c', 'd', 'e'], 'a full batch is read without waiting for its window');
  });

  test('serial: keys that come while a batch is written wait for it and go together, at most maxKeys at a time', async () => {
    const batches: string[][] = [];
    let running = 0;
    let overlapped = false;
    const batched = new Batched<string, string>(
      async (keys) => {
        if (++running > 1) overlapped = true;
        batches.push([...keys]);
        await new Promise((r) => setTimeout(r, 30));
        running--;
        return new Map(keys.map((k) => [k, k]));
      },
      { windowMs: 1, maxKeys: 3, serial: true },
    );
    const first = batched.load('a');
    await new Promise((r) => setTimeout(r, 10)); // 'a' is being written
    const later = ['b', 'c', 'd', 'e'].map((k) => batched.load(k));
    assert.deepEqual(await Promise.all([first, ...later]), ['a', 'b', 'c', 'd', 'e']);
    assert.equal(overlapped, false, 'two batches were written at once');
    assert.deepEqual(batches, [['a'], ['b', 'c', 'd'], ['e']]);
  });
});
