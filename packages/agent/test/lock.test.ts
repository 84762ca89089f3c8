/**
 * The profile lock (runner/lock.ts): acquire writes this process's
 * "<pid> <start>" stamp and release removes it; a second acquire waits
 * until release; a lock left by a dead process, by a reused PID (same pid,
 * other start time) or with garbage content is taken over; a lock held by a
 * live other process makes acquire wait (reporting its PID once) until an
 * AbortSignal aborts it, leaving that lock alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatStamp, isAlive, parseStamp, stampOf } from '../src/process-alive.js';
import { acquireProfileLock, lockPathFor } from '../src/runner/lock.js';

let dir: string;
let n = 0;
const children: ChildProcess[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'drover-lock-test-'));
});
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function profile(): string {
  return join(dir, `profile-${++n}`);
}

async function deadPid(): Promise<number> {
  const child = spawn('true', { stdio: 'ignore' });
  await once(child, 'exit');
  assert.ok(child.pid);
  return child.pid;
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const result = await Promise.race([
    promise.then(
      () => 'settled',
      () => 'settled',
    ),
    sleep(ms, 'timeout', { signal: timer.signal }).catch(() => 'timeout'),
  ]);
  timer.abort();
  return result === 'settled';
}

test('acquire writes our stamp; release removes the lock and the temp file', async () => {
  const p = profile();
  const release = await acquireProfileLock(p);
  assert.equal(lockPathFor(p), `${p}.drover-lock`);
  const text = readFileSync(lockPathFor(p), 'utf8');
  assert.equal(text, formatStamp(stampOf()));
  assert.deepEqual(parseStamp(text), stampOf());
  assert.equal(parseStamp(text)?.pid, process.pid);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
    'temp file removed',
  );
  release();
  assert.equal(existsSync(lockPathFor(p)), false);
});

test('a second acquire waits until the first is released', async () => {
  const p = profile();
  const release1 = await acquireProfileLock(p);
  const waitedFor: number[] = [];
  const second = acquireProfileLock(p, { pollMs: 10, onWait: (pid) => waitedFor.push(pid) });
  assert.equal(await settlesWithin(second, 150), false, 'second acquire must wait');
  assert.deepEqual(waitedFor, [process.pid], 'onWait called once with the holder');
  release1();
  assert.equal(await settlesWithin(second, 2000), true, 'second acquire proceeds after release');
  const release2 = await second;
  assert.equal(readFileSync(lockPathFor(p), 'utf8'), formatStamp(stampOf()));
  release2();
  assert.equal(existsSync(lockPathFor(p)), false);
});

test('a lock whose owner is dead is taken over', async () => {
  const p = profile();
  const pid = await deadPid();
  const stale = formatStamp({ pid, start: 12345 });
  assert.equal(isAlive({ pid, start: 12345 }), false);
  writeFileSync(lockPathFor(p), stale);
  const waited: number[] = [];
  const release = await acquireProfileLock(p, { pollMs: 10, onWait: (x) => waited.push(x) });
  assert.equal(readFileSync(lockPathFor(p), 'utf8'), formatStamp(stampOf()));
  assert.deepEqual(waited, [], 'no waiting for a dead owner');
  release();
});

test('a lock of a reused PID (live pid, other start time) is taken over', { skip: process.platform !== 'linux' && 'start times are Linux-only' }, async () => {
  const p = profile();
  const me = stampOf();
  assert.ok(me.start > 0, 'start time read from /proc');
  writeFileSync(lockPathFor(p), formatStamp({ pid: me.pid, start: me.start + 1 }));
  const release = await acquireProfileLock(p, { pollMs: 10 });
  assert.equal(readFileSync(lockPathFor(p), 'utf8'), formatStamp(me));
  release();
});

test('a lock file with garbage content is taken over', async () => {
  const p = profile();
  writeFileSync(lockPathFor(p), 'not a stamp');
  const release = await acquireProfileLock(p, { pollMs: 10 });
  assert.equal(readFileSync(lockPathFor(p), 'utf8'), formatStamp(stampOf()));
  release();
});

test('a lock held by a live other process makes acquire wait; an AbortSignal aborts it', async () => {
  const p = profile();
  const child = spawn('sleep', ['5'], { stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn');
  const pid = child.pid!;
  const holder = stampOf(pid);
  assert.equal(isAlive(holder), true);
  const held = formatStamp(holder);
  writeFileSync(lockPathFor(p), held);

  const controller = new AbortController();
  const waited: number[] = [];
  const acquiring = acquireProfileLock(p, { pollMs: 10, signal: controller.signal, onWait: (x) => waited.push(x) });
  assert.equal(await settlesWithin(acquiring, 200), false, 'waits while the holder lives');
  assert.deepEqual(waited, [pid]);
  controller.abort();
  await assert.rejects(acquiring, { name: 'AbortError' });
  assert.equal(readFileSync(lockPathFor(p), 'utf8'), held, 'the live holder keeps its lock');
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
    'temp file removed',
  );
  child.kill('SIGKILL');
  await once(child, 'exit');
});

test('an already aborted signal fails at once', async () => {
  await assert.rejects(acquireProfileLock(profile(), { signal: AbortSignal.abort() }), { name: 'AbortError' });
});

test('when the live holder exits, the waiting acquire takes over', async () => {
  const p = profile();
  const child = spawn('sleep', ['5'], { stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn');
  const pid = child.pid!;
  writeFileSync(lockPathFor(p), formatStamp(stampOf(pid)));
  const acquiring = acquireProfileLock(p, { pollMs: 10 });
  assert.equal(await settlesWithin(acquiring, 100), false);
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.equal(await settlesWithin(acquiring, 2000), true);
  (await acquiring)();
});
