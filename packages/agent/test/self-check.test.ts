/**
 * The agent's self-checks on this machine's real filesystem and PATH: a
 * state or profile directory the user cannot write (a read-only directory
 * stands in for another user's), no Nix on PATH, an old Nix version, and
 * the passing case (Nix 2.8 on PATH, writable directories).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkNix, checkProfileDir, checkStateDir, compareVersions } from '../src/self-check.js';
import { scratch } from './journal-fixtures.js';

const tmp = scratch('drover-self-check-test-');
after(() => tmp.remove());
const root = process.getuid?.() === 0;
const base = tmp.dir('base');

function withPath<T>(path: string, run: () => T): T {
  const saved = process.env['PATH'];
  process.env['PATH'] = path;
  try {
    return run();
  } finally {
    process.env['PATH'] = saved;
  }
}

test('compareVersions orders dotted versions numerically', () => {
  assert.equal(compareVersions('2.8.0', '2.8'), 0);
  assert.equal(compareVersions('2.10', '2.8'), 1);
  assert.equal(compareVersions('2.7.9', '2.8'), -1);
});

test('writable state and profile directories pass (created when missing)', () => {
  assert.equal(checkStateDir(join(base, 'state', 'a'), true), null);
  assert.equal(checkProfileDir(join(base, 'profiles', 'system')), null);
});

test('a state directory under a file cannot be created: the message names it and --state-dir', () => {
  const file = join(base, 'a-file');
  writeFileSync(file, '');
  const problem = checkStateDir(join(file, 'state'), false);
  assert.match(problem ?? '', /^cannot write the agent's state directory .*a-file\/state \(ENOTDIR.*pass --state-dir DIR/);
});

test('a read-only profile directory: "run the agent as root, or pass --profile PATH"', { skip: root && 'root writes a read-only directory anyway' }, () => {
  const dir = join(base, 'ro');
  mkdirSync(dir);
  chmodSync(dir, 0o555);
  assert.match(checkProfileDir(join(dir, 'system')) ?? '', /\(EACCES.*run the agent as root, or pass --profile PATH/);
});

test('no Nix on PATH names the missing programs', () => {
  const problem = withPath(base, () => checkNix());
  assert.match(problem ?? '', /^Nix is not on PATH \(nix, nix-store, nix-env not found in PATH=.*\): install Nix 2\.8 or newer/);
});

test('a Nix older than 2.8 is refused with its version', () => {
  const bin = join(base, 'old-nix');
  mkdirSync(bin);
  for (const p of ['nix', 'nix-store', 'nix-env']) writeFileSync(join(bin, p), '#!/bin/sh\necho "nix (Nix) 2.3.16"\n', { mode: 0o755 });
  const problem = withPath(`${bin}:/bin:/usr/bin`, () => checkNix());
  assert.equal(problem, 'Nix 2.3.16 is older than 2.8, the oldest the agent supports: upgrade Nix');
});

test("this machine's Nix passes", () => {
  assert.equal(checkNix(), null);
});
