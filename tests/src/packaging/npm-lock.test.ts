/**
 * nix/npm-lock.nix over OUR package-lock.json (which has no `resolved`
 * URLs), evaluated by real Nix (pure: nothing fetched), against the tarball
 * URLs computed here independently: every registry package gets exactly its
 * URL and keeps its integrity, workspace links and local folders get none, the
 * counts match. Also: scoped, nested and `npm:` alias entries, a mirror
 * registry, and the errors for a bad registry URL or an entry without a hash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nixEval, nixString, repoRoot } from '@drover/test-support';

interface LockEntry {
  readonly name?: string;
  readonly version?: string;
  readonly resolved?: string;
  readonly integrity?: string;
  readonly link?: boolean;
  readonly [field: string]: unknown;
}
type Packages = Record<string, LockEntry>;

const root = repoRoot();
const lockFile = join(root, 'package-lock.json');
const npmLockNix = join(root, 'nix', 'npm-lock.nix');
const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { packages: Packages };

/** The registry tarball URL npm itself would record for an installed entry, or null for links and local folders. */
function expectedUrl(registry: string, key: string, entry: LockEntry): string | null {
  const at = key.lastIndexOf('node_modules/');
  if (at < 0 || entry.link === true || entry.resolved !== undefined) return null;
  const name = entry.name ?? key.slice(at + 'node_modules/'.length);
  const unscoped = name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
  return `${registry.replace(/\/+$/, '')}/${name}/-/${unscoped}-${String(entry.version)}.tgz`;
}

async function withUrls(packages: string, registry?: string) {
  const registryArg = registry === undefined ? '' : `registry = ${nixString(registry)};`;
  return nixEval(`(import ${nixString(npmLockNix)} { packageLock = ${packages}; ${registryArg} }).packages`);
}

const ourLock = `builtins.fromJSON (builtins.readFile ${nixString(lockFile)})`;

function checkAgainstLock(got: Packages, registry: string): number {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(lock.packages).sort(), 'the same entries come out');
  let withUrl = 0;
  for (const [key, entry] of Object.entries(lock.packages)) {
    const url = expectedUrl(registry, key, entry);
    const out = got[key];
    if (url === null) {
      assert.deepEqual(out, entry, `${key} (link or local folder) is unchanged`);
      continue;
    }
    withUrl++;
    assert.equal(out?.resolved, url, key);
    assert.equal(out.integrity, entry.integrity, `${key} keeps its integrity`);
    assert.deepEqual({ ...out, resolved: undefined }, { ...entry, resolved: undefined }, `${key}: nothing else changes`);
  }
  return withUrl;
}

test(
  'our package-lock.json: every registry package gets its tarball URL and keeps its integrity; links and workspaces get none',
  { timeout: 120_000 },
  async () => {
    assert.equal(
      Object.values(lock.packages).filter((e) => e.resolved !== undefined && !e.link).length,
      0,
      'the lock has no registry URLs (else this test proves less)',
    );
    const res = await withUrls(ourLock);
    assert.ok(res.ok, res.ok ? '' : res.error);
    const got = res.value as Packages;
    const withUrl = checkAgainstLock(got, 'https://registry.npmjs.org');
    const registryEntries = Object.entries(lock.packages).filter(([k, e]) => k.includes('node_modules/') && !e.link);
    assert.equal(withUrl, registryEntries.length, 'as many URLs as registry packages');
    assert.ok(withUrl > 300, `our lock has hundreds of registry packages (${withUrl})`);
    const links = Object.entries(got).filter(([, e]) => e.link === true);
    assert.ok(links.length >= 10, 'the workspace links are there');
    for (const [key, e] of links) assert.ok(!String(e.resolved).includes('://'), `${key} stays a local link`);
    const nested = Object.keys(got).filter((k) => k.split('node_modules/').length > 2);
    const scoped = Object.keys(got).filter((k) => k.includes('node_modules/@'));
    assert.ok(nested.length > 0 && scoped.length > 0, 'our lock has nested and scoped entries');
  },
);

test('a mirror registry (with a path and a trailing slash) replaces the base of every URL', { timeout: 120_000 }, async () => {
  const registry = 'http://127.0.0.1:4873/npm/';
  const res = await withUrls(ourLock, registry);
  assert.ok(res.ok, res.ok ? '' : res.error);
  checkAgainstLock(res.value as Packages, registry);
});

test('scoped, nested and npm: alias entries; an entry that already has a URL is kept', { timeout: 60_000 }, async () => {
  const packages: Packages = {
    '': { name: 'x', version: '1.0.0' },
    'node_modules/@s/a': { version: '1.2.3', integrity: 'sha512-A' },
    'node_modules/b/node_modules/@t/c': { version: '0.0.1', integrity: 'sha512-C' },
    'node_modules/alias': { name: 'real-name', version: '2.0.0', integrity: 'sha512-R' },
    'node_modules/@u/alias': { name: '@v/real', version: '3.0.0-rc.1', integrity: 'sha512-V' },
    'node_modules/git-dep': { version: '1.0.0', resolved: 'git+ssh://git@example.com/x.git#abc' },
    'node_modules/ws-link': { resolved: 'packages/ws', link: true },
    'packages/ws': { name: 'ws-link', version: '0.1.0' },
  };
  const res = await withUrls(`builtins.fromJSON ${nixString(JSON.stringify({ lockfileVersion: 3, packages }))}`);
  assert.ok(res.ok, res.ok ? '' : res.error);
  const got = res.value as Packages;
  assert.equal(got['node_modules/@s/a']?.resolved, 'https://registry.npmjs.org/@s/a/-/a-1.2.3.tgz');
  assert.equal(got['node_modules/b/node_modules/@t/c']?.resolved, 'https://registry.npmjs.org/@t/c/-/c-0.0.1.tgz');
  assert.equal(got['node_modules/alias']?.resolved, 'https://registry.npmjs.org/real-name/-/real-name-2.0.0.tgz');
  assert.equal(got['node_modules/@u/alias']?.resolved, 'https://registry.npmjs.org/@v/real/-/real-3.0.0-rc.1.tgz');
  assert.equal(got['node_modules/git-dep']?.resolved, 'git+ssh://git@example.com/x.git#abc');
  assert.deepEqual(got['node_modules/ws-link'], packages['node_modules/ws-link']);
  assert.deepEqual(got['packages/ws'], packages['packages/ws']);
  assert.deepEqual(got[''], packages['']);
});

test('a registry that is not an http(s) URL, an entry without integrity, a lock without packages: errors naming the problem', { timeout: 60_000 }, async () => {
  const bad = await withUrls(ourLock, 'registry.npmjs.org');
  assert.ok(!bad.ok);
  assert.match(bad.error, /npmRegistry must be an http\(s\) URL.*got "registry\.npmjs\.org"/);
  const noHash = await withUrls(`{ packages = { "node_modules/left-pad" = { version = "1.3.0"; }; }; }`);
  assert.ok(!noHash.ok);
  assert.match(noHash.error, /node_modules\/left-pad has neither resolved nor integrity/);
  const v1 = await withUrls(`{ lockfileVersion = 1; dependencies = { }; }`);
  assert.ok(!v1.ok);
  assert.match(v1.error, /has no `packages` \(lockfileVersion 1\)/);
});
