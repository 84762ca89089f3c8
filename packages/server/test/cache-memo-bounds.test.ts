/**
 * CacheMemo's own rules, without a server: a read that raced an
 * invalidation stores nothing, entries expire, the size bound drops the
 * oldest first, and the bus events forget what they name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CacheMemo } from '../src/cache/memo.js';

const text = (n: number) => Buffer.alloc(n, 'x');
const hash = (i: number) => String(i).padStart(32, '0');

test('a lookup that raced an invalidation does not store what it read', () => {
  const memo = new CacheMemo();
  const epoch = memo.epoch;
  memo.forgetPaths('c1', [hash(1)]); // e.g. GC on another replica while the database read was in flight
  memo.rememberNarinfo(epoch, 'c1', hash(1), text(10));
  assert.equal(memo.narinfo('c1', hash(1)), undefined);
  memo.rememberNarinfo(memo.epoch, 'c1', hash(1), text(10));
  assert.equal(memo.narinfo('c1', hash(1))?.length, 10);
});

test('entries expire after the TTL', async () => {
  const memo = new CacheMemo({ ttlMs: 30 });
  memo.rememberNarinfo(memo.epoch, 'c1', hash(1), text(10));
  assert.ok(memo.narinfo('c1', hash(1)));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(memo.narinfo('c1', hash(1)), undefined);
});

test('the size bound drops the oldest narinfos first', () => {
  const memo = new CacheMemo({ maxNarinfoBytes: 10 * (50 + 128) });
  for (let i = 0; i < 15; i++) memo.rememberNarinfo(memo.epoch, 'c1', hash(i), text(50));
  const kept = Array.from({ length: 15 }, (_, i) => memo.narinfo('c1', hash(i)) !== undefined);
  assert.deepEqual(kept, [...Array<boolean>(5).fill(false), ...Array<boolean>(10).fill(true)]);
});

test('cache-changed forgets the named hashes, a whole cache, or everything; resync everything', () => {
  const memo = new CacheMemo();
  const fill = () => {
    for (const c of ['c1', 'c2']) for (let i = 0; i < 3; i++) memo.rememberNarinfo(memo.epoch, c, hash(i), text(5));
  };
  const held = () => ['c1', 'c2'].flatMap((c) => [0, 1, 2].filter((i) => memo.narinfo(c, hash(i))).map((i) => `${c}/${i}`));
  fill();
  memo.onBusEvent({ kind: 'cache-changed', cacheId: 'c1', storeHashes: [hash(1)] });
  assert.deepEqual(held(), ['c1/0', 'c1/2', 'c2/0', 'c2/1', 'c2/2']);
  memo.onBusEvent({ kind: 'cache-changed', cacheId: 'c2' });
  assert.deepEqual(held(), ['c1/0', 'c1/2']);
  memo.onBusEvent({ kind: 'cache-changed' });
  assert.deepEqual(held(), []);
  fill();
  memo.onBusEvent({ kind: 'resync' });
  assert.deepEqual(held(), []);
  memo.onBusEvent({ kind: 'agents-changed', agentIds: [] });
});
