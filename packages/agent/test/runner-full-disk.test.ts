/**
 * The runner on a full state directory (a real 256 KiB tmpfs filled until
 * ENOSPC): its journal drops what it cannot write without throwing, keeps
 * the first failure and an unwritten outcome, writes that outcome and a
 * line counting the lost entries once space is back; a deployment whose
 * journal failed stops before activation with the directory and cause.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { JournalEntry } from '../src/journal/entry.js';
import { JournalReader } from '../src/journal/reader.js';
import { Journal } from '../src/runner/journal.js';
import { runDeployment } from '../src/runner/run-deployment.js';
import { files } from '../src/state.js';
import { mountSmallTmpfs } from '@drover/test-support';
import { ID_A } from './journal-fixtures.js';

const disk = mountSmallTmpfs();
const skip = typeof disk === 'string' ? disk : false;
after(() => {
  if (typeof disk !== 'string') disk.unmount();
});
let n = 0;

function deploymentFolder(root: string): string {
  const dir = join(root, `state-${++n}`, 'deployments', ID_A);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function entries(dir: string): JournalEntry[] {
  const all: JournalEntry[] = [];
  new JournalReader(files.events(dir), { deploymentId: ID_A }).drain((e) => all.push(...e));
  return all;
}

const texts = (all: JournalEntry[]): string[] => all.flatMap((e) => (e.type === 'deployment.log' ? e.lines.map((l) => l.text) : [e.type]));

test('unwritable entries are dropped and counted; the outcome is written once space is back', { skip }, async () => {
  if (typeof disk === 'string') return;
  const dir = deploymentFolder(disk.root);
  const journal = new Journal(dir, ID_A);
  disk.fill(); // before the journal's first page: tmpfs gives files whole pages
  try {
    journal.started();
    journal.say('lost 1');
    journal.say('lost 2');
    assert.match(String(journal.writeFailure), /ENOSPC/);
    journal.finish('Succeeded', null, null);
    assert.equal(journal.unwritten?.status, 'Succeeded');
    assert.equal(await journal.flush(0), false, 'still full');
  } finally {
    disk.free();
  }
  assert.equal(await journal.flush(1000, 10), true);
  assert.equal(journal.unwritten, null);
  assert.deepEqual(texts(entries(dir)), [
    '3 journal entries could not be written (the state directory was not writable) and are missing',
    'deployment.finished',
  ]);
});

test('a deployment whose journal cannot be written stops before activation, with the directory and the cause', { skip }, async () => {
  if (typeof disk === 'string') return;
  const dir = deploymentFolder(disk.root);
  const journal = new Journal(dir, ID_A);
  disk.fill();
  try {
    journal.say('this line is lost');
  } finally {
    disk.free();
  }
  const order = { id: ID_A, index: 1, storePath: `/nix/store/${'a'.repeat(32)}-p`, rollbackScript: null, cache: null };
  const profile = join(disk.root, 'profile');
  await runDeployment({
    dir,
    order: { deployment: order, agent: 'a', profile, cache: null, server: 'http://127.0.0.1:1', system: 'x86_64-linux' },
    journal,
    token: undefined,
    cancel: new AbortController().signal,
    phase: 'waiting',
  });
  const outcome = entries(dir).find((e) => e.type === 'deployment.finished');
  assert.equal(outcome?.type === 'deployment.finished' && outcome.status, 'Failed');
  assert.match(
    outcome?.type === 'deployment.finished' ? (outcome.reason ?? '') : '',
    new RegExp(`^stopped before activation: the agent's state directory ${join(disk.root, `state-${n}`)} is full \\(ENOSPC\\).*; the profile was not changed$`),
  );
});
