/**
 * Reconnect backoff (backoff.ts): delays double from initialMs up to maxMs,
 * every delay lies in [cap/2, cap] whatever the random source says, many
 * attempts never overflow, and reset() starts over; a Retry-After header
 * is read as the delay it asks for.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, retryAfterMs } from '../src/backoff.js';

function delays(b: Backoff, count: number): number[] {
  return Array.from({ length: count }, () => b.next());
}

test('grows by doubling and is capped at maxMs', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
  assert.deepEqual(delays(b, 7), [100, 200, 400, 800, 1000, 1000, 1000]);
});

test('the lowest draw is half the cap', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
  assert.deepEqual(delays(b, 6), [50, 100, 200, 400, 500, 500]);
});

test('jitter with Math.random stays within [cap/2, cap]', () => {
  const b = new Backoff({ initialMs: 1000, maxMs: 60_000 });
  const caps = [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000];
  for (let round = 0; round < 200; round++) {
    b.reset();
    for (const cap of caps) {
      const d = b.next();
      assert.ok(d >= cap / 2 && d <= cap, `delay ${d} outside [${cap / 2}, ${cap}]`);
    }
  }
});

test('jitter spreads delays (not all equal)', () => {
  const b = new Backoff({ initialMs: 60_000, maxMs: 60_000 });
  assert.ok(new Set(delays(b, 50)).size > 10);
});

test('many attempts stay at the cap without overflowing', () => {
  const b = new Backoff({ initialMs: 1000, maxMs: 60_000, random: () => 0.5 });
  const all = delays(b, 2000);
  assert.equal(all.at(-1), 45_000);
  assert.ok(all.every((d) => Number.isFinite(d) && d <= 60_000));
});

test('reset starts again from initialMs', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 10_000, random: () => 1 });
  delays(b, 5);
  assert.equal(b.next(), 3200);
  b.reset();
  assert.deepEqual(delays(b, 3), [100, 200, 400]);
});

test('Retry-After: seconds or an HTTP date, plus up to a second of jitter, capped; anything else is none', () => {
  const now = Date.parse('2026-12-03T06:00:00Z');
  assert.equal(
    retryAfterMs('3', 60_000, now, () => 0),
    3000,
  );
  assert.equal(
    retryAfterMs(['3'], 60_000, now, () => 1),
    4000,
  );
  assert.equal(
    retryAfterMs('Thu, 03 Dec 2026 06:00:10 GMT', 60_000, now, () => 0),
    10_000,
  );
  assert.equal(
    retryAfterMs('Thu, 03 Dec 2026 05:00:00 GMT', 60_000, now, () => 0),
    0,
  );
  assert.equal(
    retryAfterMs('600', 60_000, now, () => 0),
    60_000,
  );
  assert.equal(retryAfterMs(undefined, 60_000, now), null);
  assert.equal(retryAfterMs(' ', 60_000, now), null);
  assert.equal(retryAfterMs('soon', 60_000, now), null);
});
