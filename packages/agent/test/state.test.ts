/**
 * The agent's state directory (state.ts): orders round-trip; folders are
 * listed oldest first and pruneReported keeps the newest N reported ones.
 * (Reading the journal is journal-reader.test.ts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { StorePath } from '@drover/protocol';
import { deploymentDir, files, isReported, listDeploymentDirs, markReported, pruneReported, readOrder, writeOrder, type RunnerOrder } from '../src/state.js';

const HASH = '0123456789abcdfghijklmnpqrsvwxyz';
let root: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'drover-state-test-'));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

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

    assert.deepEqual(
      listDeploymentDirs(stateDir).map((d) => basename(d)),
      ids,
      'oldest first, folders without order.json ignored',
    );

    pruneReported(stateDir, 2);
    const left = listDeploymentDirs(stateDir).map((d) => basename(d));
    assert.deepEqual(left, [ids[0], ids[3], ids[4], ids[5]]);
    assert.equal(isReported(deploymentDir(stateDir, ids[4]!)), true);

    pruneReported(stateDir, 0);
    assert.deepEqual(
      listDeploymentDirs(stateDir).map((d) => basename(d)),
      [ids[0], ids[3]],
    );
  });

  test('listing a state dir that does not exist yet is empty', () => {
    assert.deepEqual(listDeploymentDirs(join(root, 'nope')), []);
    pruneReported(join(root, 'nope'), 1);
  });
});
