/**
 * The free-space rule (runner/free-space.ts): the unpacked size plus the
 * reserve must fit the free space; the refusal names the sizes, the free
 * space and the fix. freeBytes reads a real filesystem.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { freeBytes, spaceProblem } from '../src/runner/free-space.js';

const MIB = 1024 * 1024;
const plan = { paths: 3, downloadBytes: 10 * MIB, unpackedBytes: 40 * MIB };

test('fits: unpacked plus reserve within the free space', () => {
  assert.equal(spaceProblem(plan, 100 * MIB, 0, '/nix/store'), null);
  assert.equal(spaceProblem(plan, 100 * MIB, 60 * MIB, '/nix/store'), null);
  assert.equal(spaceProblem({ paths: 0, downloadBytes: 0, unpackedBytes: 0 }, 0, 0, '/nix/store'), null);
});

test('does not fit: the reason names what is fetched, what is free and the fix', () => {
  assert.equal(
    spaceProblem(plan, 30 * MIB, 0, '/nix/store'),
    'not enough space on the filesystem of /nix/store: 3 paths to fetch (10.0 MiB download, 40.0 MiB unpacked), but only 30.0 MiB is free; free some space (nix-collect-garbage) or lower --store-reserve',
  );
  assert.match(
    spaceProblem(plan, 100 * MIB, 61 * MIB, '/nix/store') ?? '',
    /40\.0 MiB unpacked\) and the agent keeps 61\.0 MiB free \(--store-reserve\), but only 100\.0 MiB/,
  );
  assert.match(
    spaceProblem({ paths: 0, downloadBytes: 0, unpackedBytes: 0 }, 5 * MIB, 6 * MIB, '/nix/store') ?? '',
    /nothing to fetch and the agent keeps 6\.0 MiB free/,
  );
});

test('freeBytes reads the filesystem', async () => {
  const free = await freeBytes(tmpdir());
  assert.ok(Number.isSafeInteger(free) && free > 0);
});
