/**
 * SerialJobs (bus/serial-jobs.ts): ids from many events make one flush, jobs
 * never overlap, a failure reaches onError without stopping the next job, and
 * stop() waits for the running job and starts nothing after it; paceFactor
 * spaces out flushes that take long.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SerialJobs } from '../src/bus/serial-jobs.js';

test('ids added before the delay ends make one flush; ids added during it make the next', async () => {
  const flushes: string[][] = [];
  const jobs = new SerialJobs({ delayMs: 20, flush: async (ids) => void flushes.push(ids.sort()), onError: (err) => assert.fail(String(err)) });
  jobs.add(['a', 'b']);
  jobs.add(['b', 'c']);
  jobs.add([]);
  await sleep(60);
  jobs.add(['d']);
  await sleep(60);
  await jobs.stop();
  assert.deepEqual(flushes, [['a', 'b', 'c'], ['d']]);
});

test('jobs run one after another; a failed one goes to onError and the next still runs', async () => {
  const events: string[] = [];
  const errors: unknown[] = [];
  const jobs = new SerialJobs({ delayMs: 5, flush: async () => void events.push('flush'), onError: (err) => errors.push(err) });
  jobs.run(async () => {
    events.push('slow start');
    await sleep(30);
    events.push('slow end');
  });
  jobs.run(async () => {
    events.push('failing');
    throw new Error('boom');
  });
  jobs.run(async () => void events.push('after'));
  await sleep(80);
  assert.deepEqual(events, ['slow start', 'slow end', 'failing', 'after']);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /boom/);
  await jobs.stop();
});

test('stop() waits for the running job; queued jobs and gathered ids never start', async () => {
  const events: string[] = [];
  const jobs = new SerialJobs({ delayMs: 5, flush: async () => void events.push('flush'), onError: (err) => assert.fail(String(err)) });
  jobs.run(async () => {
    await sleep(30);
    events.push('running job ended');
  });
  jobs.run(async () => void events.push('queued'));
  jobs.add(['x']);
  await sleep(5); // the first job is running
  await jobs.stop();
  assert.deepEqual(events, ['running job ended']);
  jobs.add(['y']);
  jobs.run(async () => void events.push('after stop'));
  await sleep(30);
  assert.deepEqual(events, ['running job ended']);
});

test('paceFactor: a slow flush holds the next one back for that many times its duration', async () => {
  const started: number[] = [];
  const jobs = new SerialJobs({
    delayMs: 1,
    paceFactor: 10,
    flush: async () => {
      started.push(Date.now());
      await sleep(20);
    },
    onError: (err) => assert.fail(String(err)),
  });
  jobs.add(['a']);
  await sleep(40); // the first flush ran (20 ms) and ended
  jobs.add(['b']);
  await sleep(100);
  assert.equal(started.length, 1, 'the second flush waited: 10 × 20 ms after the first ended');
  await sleep(200);
  assert.equal(started.length, 2);
  assert.ok(started[1]! - started[0]! >= 200, `${started[1]! - started[0]!} ms between the flushes`);
  await jobs.stop();
});
