/**
 * Closure diffs of paths real Nix built (no nixpkgs: /bin/sh derivations
 * with versioned names and references between them): the agent's
 * `nix path-info -r --json` read by parseClosure, diffed by diffClosures —
 * an upgrade, an added and a removed package, unchanged ones left out —
 * and the size delta equal to what `nix path-info -S` says of each closure.
 * Run under `flock /work/wt/nix.lock` (the store is shared).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closureCommand, closureSizeCommand, parseClosure, parseClosureSize } from '@drover/nix';
import { diffClosures, parseStorePath, type StorePath } from '@drover/protocol';
import { run } from '../support/nix.js';

const salt = randomBytes(6).toString('hex');

/** Two closures: app-1.0 → {libfoo-1.2, tool-3, etc}, app-1.1 → {libfoo-1.2, newlib-0.5, etc'}. */
const EXPR = `
  let
    mk = name: refs: text: derivation {
      inherit name;
      system = builtins.currentSystem;
      builder = "/bin/sh";
      salt = "${salt}";
      args = [ "-c" ("echo " + text + " > $out; echo " + builtins.concatStringsSep " " refs + " >> $out") ];
    };
    libfoo = mk "libfoo-1.2" [ ] "libfoo";
    tool = mk "tool-3" [ libfoo ] "tool";
    newlib = mk "newlib-0.5" [ libfoo ] "a-rather-longer-library-text-for-size";
    etcA = mk "etc" [ ] "a";
    etcB = mk "etc" [ ] "b";
  in {
    a = mk "app-1.0" [ libfoo tool etcA ] "app-a";
    b = mk "app-1.1" [ libfoo newlib etcB ] "app-b";
  }
`;

async function nixStdout(argv: readonly string[]): Promise<string> {
  const [cmd, ...args] = argv;
  const res = await run(cmd ?? 'nix', args);
  assert.equal(res.code, 0, res.stderr);
  return res.stdout;
}

test('the closures of two real Nix builds diff into an upgrade, an added and a removed package, with the size delta', async () => {
  const built = (await nixStdout(['nix-build', '--no-out-link', '-E', EXPR, '-A', 'a', '-A', 'b'])).trim().split('\n');
  assert.equal(built.length, 2, built.join('\n'));
  const [a, b] = built.map((p) => parseStorePath(p)) as [StorePath, StorePath];
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
