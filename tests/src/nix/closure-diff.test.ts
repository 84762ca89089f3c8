/**
 * Closure diffs of paths real Nix built (support/versioned-closures.ts:
 * versioned names, references between them): the agent's
 * `nix path-info -r --json` read by parseClosure, diffed by diffClosures —
 * an upgrade, an added and a removed package, unchanged ones left out —
 * and the size delta equal to what `nix path-info -S` says of each closure.
 * Run under `flock /work/wt/nix.lock` (the store is shared).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closureCommand, closureSizeCommand, parseClosure, parseClosureSize } from '@drover/nix';
import { diffClosures } from '@drover/protocol';
import { run } from '../support/nix.js';
import { buildVersionedClosures } from '../support/versioned-closures.js';

async function nixStdout(argv: readonly string[]): Promise<string> {
  const [cmd, ...args] = argv;
  const res = await run(cmd ?? 'nix', args);
  assert.equal(res.code, 0, res.stderr);
  return res.stdout;
}

test('the closures of two real Nix builds diff into an upgrade, an added and a removed package, with the size delta', async () => {
  const { a, b } = await buildVersionedClosures();
  const closureA = parseClosure(await nixStdout(closureCommand(a).argv));
  const closureB = parseClosure(await nixStdout(closureCommand(b).argv));
  assert.ok(closureA && closureB, 'path-info JSON parsed');
  assert.deepEqual(closureA.map((p) => p.path.replace(/^\/nix\/store\/[a-z0-9]{32}-/, '')).sort(), ['app-1.0', 'etc', 'libfoo-1.2', 'tool-3']);
  assert.ok(closureA.every((p) => typeof p.narSize === 'number' && p.narSize > 0));

  const diff = diffClosures({ from: a, to: b, source: 'agent', fromClosure: closureA, toClosure: closureB });
  assert.deepEqual(diff.added, [{ name: 'newlib', version: '0.5' }]);
  assert.deepEqual(diff.removed, [{ name: 'tool', version: '3' }]);
  assert.deepEqual(diff.changed, [{ name: 'app', from: ['1.0'], to: ['1.1'] }], 'etc and libfoo are not changes');
  const sizeA = parseClosureSize(await nixStdout(closureSizeCommand(a).argv));
  const sizeB = parseClosureSize(await nixStdout(closureSizeCommand(b).argv));
  assert.deepEqual([diff.sizeFrom, diff.sizeTo, diff.sizeDelta], [sizeA, sizeB, (sizeB ?? 0) - (sizeA ?? 0)]);
});

test('parseClosure reads both JSON shapes of nix path-info and refuses an invalid path', () => {
  const path = '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-x-1';
  assert.deepEqual(parseClosure(JSON.stringify([{ path, narSize: 10 }])), [{ path, narSize: 10 }]);
  assert.deepEqual(parseClosure(JSON.stringify({ [path]: { narSize: 10 } })), [{ path, narSize: 10 }]);
  assert.equal(parseClosure(JSON.stringify([{ path, valid: false }])), null);
  assert.equal(parseClosure('not json'), null);
  assert.equal(parseClosure('[]'), null);
});
