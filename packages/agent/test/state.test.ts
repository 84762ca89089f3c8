/**
 * The agent's state directory (state.ts): the events file as a durable
 * outbox — readEvents returns only complete lines, leaves a half-written
 * last line for the next read and resumes from the byte offset it returned
 * (also with multi-byte text), skips torn lines; orders round-trip; folders
 * are listed oldest first and pruneReported keeps the newest N reported ones.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { StorePath } from '@drover/protocol';
import {
  appendEvent,
  deploymentDir,
  files,
  isReported,
  listDeploymentDirs,
  markReported,
  pruneReported,
  readEvents,
  readOrder,
  writeOrder,
  type RunnerEvent,
  type RunnerOrder,
} from '../src/state.js';

const HASH = '0123456789abcdfghijklmnpqrsvwxyz';
let root: string;
let n = 0;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'drover-state-test-'));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = join(root, `d${++n}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function order(id: string): RunnerOrder {
  return {
    deployment: { id, index: 1, storePath: `/nix/store/${HASH}-system` as StorePath, rollbackScript: null, cache: null },
    agent: 'web-1',
    profile: '/nix/var/nix/profiles/system',
    cache: null,
    server: 'http://127.0.0.1:7700',
    system: 'x86_64-linux',
  };
}

const started: RunnerEvent = { type: 'started', time: '2025-01-01T00:00:00.000Z' };
const log = (seq: number, text: string): RunnerEvent => ({ type: 'log', seq, time: '2025-01-01T00:00:01.000Z', stream: 'stdout', text });
const finished: RunnerEvent = { type: 'finished', time: '2025-01-01T00:00:02.000Z', status: 'Succeeded', reason: null, activePath: null };

describe('readEvents', () => {
  test('no events file yet: nothing, offset unchanged', () => {
    assert.deepEqual(readEvents(freshDir(), 0), { events: [], offset: 0 });
    assert.deepEqual(readEvents(freshDir(), 17), { events: [], offset: 17 });
  });

  test('reads appended events in order; the offset is the file size', () => {
    const dir = freshDir();
    appendEvent(dir, started);
    appendEvent(dir, log(0, 'hello'));
    const r = readEvents(dir, 0);
    assert.deepEqual(r.events, [started, log(0, 'hello')]);
    assert.equal(r.offset, statSync(files.events(dir)).size);
    assert.deepEqual(readEvents(dir, r.offset), { events: [], offset: r.offset });
  });

  test('a half-written last line is left for the next read, which resumes from the returned offset', () => {
    const dir = freshDir();
    appendEvent(dir, started);
    appendEvent(dir, log(0, 'one'));
    const whole = JSON.stringify(log(1, 'two')) + '\n';
    const cut = 10;
    appendFileSync(files.events(dir), whole.slice(0, cut));

    const first = readEvents(dir, 0);
    assert.deepEqual(first.events, [started, log(0, 'one')]);
    assert.equal(first.offset, statSync(files.events(dir)).size - cut);
    assert.deepEqual(readEvents(dir, first.offset), { events: [], offset: first.offset }, 'still incomplete');

    appendFileSync(files.events(dir), whole.slice(cut));
    appendEvent(dir, finished);
    const second = readEvents(dir, first.offset);
    assert.deepEqual(second.events, [log(1, 'two'), finished]);
    assert.equal(second.offset, statSync(files.events(dir)).size);
  });

  test('offsets are bytes: multi-byte text does not shift the resume point', () => {
    const dir = freshDir();
    appendEvent(dir, log(0, 'héllo wörld ✓ 日本'));
    const first = readEvents(dir, 0);
    assert.equal(first.offset, Buffer.byteLength(readFileSync(files.events(dir), 'utf8')));
    appendEvent(dir, log(1, 'après'));
    assert.deepEqual(readEvents(dir, first.offset).events, [log(1, 'après')]);
  });

  test('a torn line in the middle (from a crash) is skipped, later events are read', () => {
    const dir = freshDir();
    appendEvent(dir, started);
    appendFileSync(files.events(dir), '{"type":"log","se\n');
    appendEvent(dir, finished);
    assert.deepEqual(readEvents(dir, 0).events, [started, finished]);
  });
});

describe('orders and folders', () => {
  test('writeOrder/readOrder round-trip, private file, no temp file left', () => {
    const dir = deploymentDir(join(root, 'orders'), '11111111-1111-4111-8111-111111111111');
    writeOrder(dir, order('11111111-1111-4111-8111-111111111111'));
    assert.deepEqual(readOrder(dir), order('11111111-1111-4111-8111-111111111111'));
    assert.equal(statSync(files.order(dir)).mode & 0o777, 0o600);
    assert.equal(existsSync(`${files.order(dir)}.tmp`), false);
  });

  test('pruneReported keeps the newest N reported deployments and every unreported one', () => {
    const stateDir = join(root, 'prune');
    const base = Date.now() / 1000 - 1000;
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const id = `0000000${i}-0000-4000-8000-000000000000`;
      ids.push(id);
      const dir = deploymentDir(stateDir, id);
      writeOrder(dir, order(id));
      utimesSync(files.order(dir), base + i * 10, base + i * 10); // oldest first
      if (i !== 0 && i !== 3) markReported(dir); // 0 and 3 still unreported
    }
    mkdirSync(join(stateDir, 'deployments', 'stray-without-order'));

    assert.deepEqual(listDeploymentDirs(stateDir).map((d) => basename(d)), ids, 'oldest first, folders without order.json ignored');

    pruneReported(stateDir, 2);
    const left = listDeploymentDirs(stateDir).map((d) => basename(d));
    assert.deepEqual(left, [ids[0], ids[3], ids[4], ids[5]]);
    assert.equal(isReported(deploymentDir(stateDir, ids[4]!)), true);

    pruneReported(stateDir, 0);
    assert.deepEqual(listDeploymentDirs(stateDir).map((d) => basename(d)), [ids[0], ids[3]]);
  });

  test('listing a state dir that does not exist yet is empty', () => {
    assert.deepEqual(listDeploymentDirs(join(root, 'nope')), []);
    pruneReported(join(root, 'nope'), 1);
  });
});
