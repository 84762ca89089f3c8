/**
 * Tests for the Nix test-support module: fixtures build, a closure pushed to
 * a TestCache and deleted locally is substituted back when the cache's key is
 * trusted, and is refused (nothing added to the store) with a wrong key.
 * Needs real Nix configured by scripts/setup-nix.sh.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { buildFixtures, deleteFromStore, isInStore, readActivations, run, startTestCache } from '@drover/test-support';

function ms(since: number): string {
  return `${Math.round(performance.now() - since)} ms`;
}

function substitute(paths: string[], url: string, key: string) {
  return run('nix-store', ['--realise', ...paths, '--option', 'substituters', url, '--option', 'trusted-public-keys', key]);
}

function httpStatus(url: string, method: string): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((ok, fail) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => ok({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', fail);
    req.end();
  });
}

test('run() reports exit codes and output instead of throwing', async () => {
  const ok = await run('sh', ['-c', 'read x; echo "out:$x"; echo err >&2; exit 3'], {
    input: 'hi\n',
    env: { DROVER_TEST_VAR: 'v' },
  });
  assert.deepEqual(ok, { code: 3, stdout: 'out:hi\n', stderr: 'err\n' });
  const env = await run('sh', ['-c', 'printf %s "$DROVER_TEST_VAR"'], {
    env: { DROVER_TEST_VAR: 'v' },
  });
  assert.equal(env.stdout, 'v');
  const missing = await run('/nonexistent/drover-command', []);
  assert.equal(missing.code, 127);
});

test('readActivations() is empty when nothing ran', async () => {
  assert.deepEqual(await readActivations(join(tmpdir(), 'drover-no-such-marker-dir')), []);
});

test('fixtures push to a TestCache, are deleted, and substitute back only with the right key', async (t) => {
  const markerDir = await mkdtemp(join(tmpdir(), 'drover-nix-test-'));
  t.after(() => rm(markerDir, { recursive: true, force: true }));

  let start = performance.now();
  const fx = await buildFixtures({ markerDir, slowSeconds: 1 });
  t.diagnostic(`buildFixtures: ${ms(start)}`);
  for (const [kind, path] of Object.entries(fx)) {
    if (kind === 'markerDir') continue;
    assert.ok(isInStore(path), `${kind} ${path} should be in the store`);
  }
  assert.notEqual(fx.nixos, fx.nixos_b);
  assert.equal(fx.markerDir, markerDir);

  const cache = await startTestCache();
  t.after(() => cache.close());
  // Same key name, different key material: must still be rejected.
  const impostor = await startTestCache();
  const wrongKey = impostor.publicKey;
  await impostor.close();
  assert.notEqual(wrongKey, cache.publicKey);
  assert.equal(wrongKey.split(':')[0], cache.publicKey.split(':')[0]);

  const wanted = [fx.nixos, fx.rollback_ok];
  const roundTrip = performance.now();
  start = performance.now();
  await cache.push(wanted);
  t.diagnostic(`push (nix copy, zstd, signed): ${ms(start)}`);

  // The cache serves what nix copy wrote, with the right content types.
  const info = await httpStatus(`${cache.url}/nix-cache-info`, 'GET');
  assert.equal(info.status, 200);
  assert.equal(info.type, 'text/x-nix-cache-info');
  assert.match(info.body, /StoreDir: \/nix\/store/);
  const hash = fx.nixos.slice('/nix/store/'.length, '/nix/store/'.length + 32);
  const narinfo = await httpStatus(`${cache.url}/${hash}.narinfo`, 'HEAD');
  assert.equal(narinfo.status, 200);
  assert.equal(narinfo.type, 'text/x-nix-narinfo');
  assert.equal(narinfo.body, '');
  assert.equal((await httpStatus(`${cache.url}/${'0'.repeat(32)}.narinfo`, 'GET')).status, 404);
  assert.equal((await httpStatus(`${cache.url}/../../etc/passwd`, 'GET')).status, 404);
  assert.equal((await httpStatus(`${cache.url}/nix-cache-info`, 'PUT')).status, 405);
  cache.requests.length = 0;

  start = performance.now();
  await deleteFromStore(wanted);
  t.diagnostic(`deleteFromStore: ${ms(start)}`);
  for (const p of wanted) assert.equal(isInStore(p), false, `${p} should be gone`);
  // Shared dependencies other fixtures still need are kept.
  assert.ok(isInStore(fx.nixos_b));

  const refused = await substitute([fx.nixos], cache.url, wrongKey);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /not signed by any of the keys/);
  assert.equal(isInStore(fx.nixos), false, 'nothing may be added with a wrong key');

  start = performance.now();
  const fetched = await substitute(wanted, cache.url, cache.publicKey);
  t.diagnostic(`substitute: ${ms(start)}; push+delete+substitute: ${ms(roundTrip)}`);
  assert.equal(fetched.code, 0, fetched.stderr);
  for (const p of wanted) {
    assert.ok(isInStore(p), `${p} should be back`);
    assert.ok(fetched.stdout.split('\n').includes(p), `nix-store -r should print ${p}`);
  }
  assert.ok(cache.requests.includes('GET /nix-cache-info'), cache.requests.join('\n'));
  assert.ok(cache.requests.includes(`GET /${hash}.narinfo`), cache.requests.join('\n'));
  assert.ok(
    cache.requests.some((r) => /^GET \/nar\/[a-z0-9]+\.nar\.zst$/.test(r)),
    cache.requests.join('\n'),
  );

  // The substituted closure still works: its hook logs to the marker dir.
  const switched = await run(`${fx.nixos}/bin/switch-to-configuration`, ['switch']);
  assert.equal(switched.code, 0, switched.stderr);
  assert.match(switched.stdout, /switching to configuration/);
  assert.match(switched.stderr, /stderr/);
  const rollback = await run(fx.rollback_ok, []);
  assert.equal(rollback.code, 0);
  const failing = await run(fx.rollback_fail, []);
  assert.equal(failing.code, 1);
  assert.match(failing.stderr, /health check failed on purpose/);
  assert.deepEqual(await readActivations(markerDir), [
    `nixos switch ${fx.nixos}`,
    `rollback-script ok ${fx.rollback_ok}`,
    `rollback-script fail ${fx.rollback_fail}`,
  ]);
});

test('deleteFromStore() throws when a path is kept alive by a GC root', async (t) => {
  const markerDir = await mkdtemp(join(tmpdir(), 'drover-nix-test-'));
  t.after(() => rm(markerDir, { recursive: true, force: true }));
  const fx = await buildFixtures({ markerDir });
  const profile = join(markerDir, 'profile');
  const set = await run('nix-env', ['-p', profile, '--set', fx.plain]);
  assert.equal(set.code, 0, set.stderr);
  await assert.rejects(deleteFromStore([fx.plain]), /still in the store/);
  assert.ok(isInStore(fx.plain));
  // Without the root it goes.
  await rm(profile, { force: true });
  await rm(`${profile}-1-link`, { force: true });
  await deleteFromStore([fx.plain]);
  assert.equal(isInStore(fx.plain), false);
});
