/**
 * Closure diffs without Nix: store path names split as Nix's DrvName splits
 * them, closures grouped by name into added / removed / changed with their
 * versions, the size delta, the cut that keeps a diff within one frame, and
 * the summary line `drover activate` prints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import {
  ClosureDiffSchema,
  decodeClosureDiff,
  diffClosures,
  diffSummary,
  fitDiff,
  formatSizeDelta,
  formatVersions,
  MAX_DIFF_ENTRIES,
  packageOfPath,
  parsePackageName,
  type ClosurePath,
  type StorePath,
} from '../src/index.js';

const HASH = '0123456789abcdfghijklmnpqrsvwxyz';
const hashes = new Map<string, string>();
/** A store path with a hash of its own per name. */
function sp(name: string): StorePath {
  let hash = hashes.get(name);
  if (!hash) {
    const n = hashes.size;
    hash = HASH.slice(n % 32) + HASH.slice(0, n % 32);
    hash =
      hash.slice(0, 28) +
      String(n)
        .padStart(4, '0')
        .replace(/[eotu]/g, 'a');
    hashes.set(name, hash);
  }
  return `/nix/store/${hash}-${name}` as StorePath;
}
const closure = (...entries: [string, number][]): ClosurePath[] => entries.map(([name, narSize]) => ({ path: sp(name), narSize }));

test('names split where Nix DrvName splits them: at the first dash not followed by a letter', () => {
  const cases: [string, string, string][] = [
    ['hello-2.12.1', 'hello', '2.12.1'],
    ['openssl-3.0.8-bin', 'openssl', '3.0.8-bin'],
    ['gtk+3-3.24.38', 'gtk+3', '3.24.38'],
    ['nixos-system-web-1-23.11.20240101.abcdef', 'nixos-system-web', '1-23.11.20240101.abcdef'],
    ['etc', 'etc', ''],
    ['unit-script-nginx-start', 'unit-script-nginx-start', ''],
    ['python3.11-requests-2.31.0', 'python3.11-requests', '2.31.0'],
    ['font-_custom', 'font', '_custom'],
    ['trailing-', 'trailing-', ''],
  ];
  for (const [name, pname, version] of cases) assert.deepEqual(parsePackageName(name), { name: pname, version }, name);
  assert.deepEqual(packageOfPath(sp('bash-5.2-p15')), { name: 'bash', version: '5.2-p15' });
});

test('a diff lists added, removed and changed packages by name with their versions, and the size delta', () => {
  const from = sp('system-a');
  const to = sp('system-b');
  const diff = diffClosures({
    from,
    to,
    source: 'agent',
    fromClosure: closure(['system-a', 10], ['glibc-2.38', 1000], ['openssl-3.0.7', 200], ['openssl-3.0.7-bin', 50], ['tool-1', 5], ['etc', 3]),
    toClosure: closure(['system-b', 12], ['glibc-2.38', 1000], ['openssl-3.0.8', 210], ['openssl-3.0.8-bin', 55], ['newlib-0.5', 40], ['etc', 4]),
  });
  assert.equal(diff.from, from);
  assert.equal(diff.to, to);
  assert.equal(diff.source, 'agent');
  assert.deepEqual(diff.added, [
    { name: 'newlib', version: '0.5' },
    { name: 'system-b', version: '' },
  ]);
  assert.deepEqual(diff.removed, [
    { name: 'system-a', version: '' },
    { name: 'tool', version: '1' },
  ]);
  // glibc (same version) and etc (no version either side) are not changes, however their paths differ.
  assert.deepEqual(diff.changed, [{ name: 'openssl', from: ['3.0.7', '3.0.7-bin'], to: ['3.0.8', '3.0.8-bin'] }]);
  assert.equal(diff.sizeFrom, 1268);
  assert.equal(diff.sizeTo, 1321);
  assert.equal(diff.sizeDelta, 53);
  assert.ok(Value.Check(ClosureDiffSchema, diff));
  assert.deepEqual(decodeClosureDiff(JSON.parse(JSON.stringify(diff))), diff);
});

test('a package gaining a second version is changed with only the new version on its right', () => {
  const diff = diffClosures({
    from: sp('a'),
    to: sp('b'),
    source: 'server',
    fromClosure: closure(['python3-3.10.9', 1]),
    toClosure: closure(['python3-3.10.9', 1], ['python3-3.11.1', 1]),
  });
  assert.deepEqual(diff.changed, [{ name: 'python3', from: [], to: ['3.11.1'] }]);
  assert.equal(`${formatVersions(diff.changed[0]?.from ?? [])} → ${formatVersions(diff.changed[0]?.to ?? [])}`, '∅ → 3.11.1');
  assert.equal(formatVersions(['', '1.0']), 'ε, 1.0');
});

test('against nothing everything is added; an unknown NAR size leaves the sizes unknown', () => {
  const first = diffClosures({ from: null, to: sp('b'), source: 'agent', fromClosure: null, toClosure: closure(['b-1', 5], ['c-2', 6]) });
  assert.deepEqual(first.added, [
    { name: 'b', version: '1' },
    { name: 'c', version: '2' },
  ]);
  assert.deepEqual([first.removed, first.changed], [[], []]);
  assert.deepEqual([first.sizeFrom, first.sizeTo, first.sizeDelta], [null, 11, null]);
  const unknown = diffClosures({
    from: sp('a'),
    to: sp('b'),
    source: 'agent',
    fromClosure: [{ path: sp('a-1'), narSize: null }],
    toClosure: closure(['a-2', 5]),
  });
  assert.deepEqual([unknown.sizeFrom, unknown.sizeTo, unknown.sizeDelta], [null, 5, null]);
});

test('a huge diff is cut to MAX_DIFF_ENTRIES per list and to the byte budget, so it fits in one frame', () => {
  const many = Array.from({ length: MAX_DIFF_ENTRIES + 500 }, (_, i): ClosurePath => ({ path: `/nix/store/${HASH}-pkg${i}-1.0`, narSize: 1 }));
  const diff = diffClosures({ from: null, to: sp('big'), source: 'agent', fromClosure: null, toClosure: many });
  assert.equal(diff.added.length, MAX_DIFF_ENTRIES);
  assert.equal(diff.sizeTo, MAX_DIFF_ENTRIES + 500, 'the size counts the whole closure');
  const fitted = fitDiff(diff, 20_000);
  assert.ok(JSON.stringify(fitted).length <= 20_000);
  assert.ok(fitted.added.length > 0 && fitted.added.length < diff.added.length);
  assert.deepEqual(fitted.added, diff.added.slice(0, fitted.added.length), 'the first names are kept');
});

test('the summary counts packages and signs the size delta', () => {
  const base = diffClosures({ from: sp('x'), to: sp('y'), source: 'server', fromClosure: closure(['a-1', 0]), toClosure: closure(['a-2', 0]) });
  const diff = {
    ...base,
    added: [
      { name: 'n1', version: '1' },
      { name: 'n2', version: '' },
      { name: 'n3', version: '3' },
    ],
    removed: [{ name: 'r', version: '1' }],
    sizeDelta: Math.round(14.2 * 1024 * 1024),
  };
  assert.equal(diffSummary(diff), '+3 −1 ~1 packages, +14.2 MiB');
  assert.equal(diffSummary({ ...diff, sizeDelta: null }), '+3 −1 ~1 packages');
  assert.equal(formatSizeDelta(-512 * 1024), '−512.0 KiB');
  assert.equal(formatSizeDelta(0), '+0 B');
  assert.equal(formatSizeDelta(3 * 1024 ** 3), '+3.0 GiB');
});
