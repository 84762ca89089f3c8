/**
 * The built-in binary cache end to end, defined once and run on SQLite,
 * PostgreSQL and S3 storage: real `drover server`, real `nix copy --to` and
 * substitution into a store that lacked the paths, hand-made corrupted,
 * truncated and bodiless uploads, `drover push`, and a deployment whose agent
 * pulls from the built-in cache with nothing configured by hand, followed by
 * a GC that keeps the deployed closure and deletes an undeployed one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CacheInfo, GcReport } from '@drover/protocol';
import { toNixBase32 } from '@drover/nix';
import { Teardown } from '@drover/test-support';
import { buildFixtures, deleteFromStore, isInStore, run, type Fixtures } from '../support/nix.js';
import {
  createToken,
  drover,
  makeBackend,
  randomName,
  startAgent,
  startServer,
  type Backend,
  type BackendKind,
  type DroverProcess,
  type ServerHandle,
} from '../support/drover.js';
import { activePath } from './harness.js';

export interface CacheSuiteOptions {
  /** Extra environment for the server (S3 storage settings). */
  readonly serverEnv?: () => Promise<NodeJS.ProcessEnv>;
  readonly label?: string;
}

async function closure(paths: string[]): Promise<string[]> {
  const r = await run('nix-store', ['--query', '--requisites', ...paths]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '');
}

const hashOf = (p: string) => p.slice('/nix/store/'.length, '/nix/store/'.length + 32);

/** A raw HTTP exchange where the body may be cut short (`sendBytes` < declared length) or never sent. */
function rawPut(
  url: string,
  headers: Record<string, string>,
  body: Buffer,
  opts: { declared?: number; sendBytes?: number; closeAfterMs?: number } = {},
): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { ...headers, 'content-length': String(opts.declared ?? body.length) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started }));
    });
    req.on('error', (err) => (opts.closeAfterMs !== undefined ? resolve({ status: 0, ms: Date.now() - started }) : reject(err)));
    req.write(body.subarray(0, opts.sendBytes ?? body.length));
    if (opts.closeAfterMs !== undefined) setTimeout(() => req.destroy(), opts.closeAfterMs);
    else if ((opts.sendBytes ?? body.length) === (opts.declared ?? body.length)) req.end();
  });
}

export function defineCacheSuite(kind: BackendKind, options: CacheSuiteOptions = {}): void {
  describe(`built-in binary cache on ${options.label ?? kind}`, { timeout: 600_000 }, () => {
    let dir: string;
    let backend: Backend;
    let server: ServerHandle;
    let admin: string;
    let push: string;
    let pull: string;
    let cache: CacheInfo;
    let fixtures: Fixtures;
    const procs: DroverProcess[] = [];
    /** What `before` created, undone by `after` (after the processes are stopped). */
    const teardown = new Teardown();
    const cacheUrl = () => `${server.url}/cache/main`;
    const basic = (token: string) => `Basic ${Buffer.from(`:${token}`).toString('base64')}`;
    const netrc = async (token: string) => {
      const file = join(dir, `netrc-${randomBytes(4).toString('hex')}`);
      await writeFile(file, `machine 127.0.0.1 password ${token}\n`, { mode: 0o600 });
      return file;
    };
    const nixCopyTo = async (paths: string[], token: string, url = cacheUrl()) =>
      run('nix', ['copy', '--to', `${url}?compression=zstd`, '--option', 'netrc-file', await netrc(token), ...paths], {
        env: { XDG_CACHE_HOME: await mkdtemp(join(dir, 'push-cache-')) },
      });
    /** Substitutes into a fresh chroot store with a fresh narinfo cache (the pushing Nix caches the unsigned narinfos it wrote). */
    const nixCopyFrom = async (paths: string[], token: string | null, key: string, url = cacheUrl()) => {
      const store = await mkdtemp(join(dir, 'store-'));
      const r = await run(
        'nix',
        [
          'copy',
          '--from',
          url,
          '--to',
          store,
          '--option',
          'trusted-public-keys',
          key,
          ...(token ? ['--option', 'netrc-file', await netrc(token)] : []),
          ...paths,
        ],
        { env: { XDG_CACHE_HOME: join(store, '.cache') } },
      );
      return { ...r, store };
    };

    before(async () => {
      dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), `cache-${options.label ?? kind}-`));
      if (!process.env['DROVER_TEST_KEEP']) teardown.add(() => rm(dir, { recursive: true, force: true }));
      fixtures = await buildFixtures({ markerDir: join(dir, 'markers'), salt: randomBytes(8).toString('hex'), slowSeconds: 1 });
      backend = await makeBackend(kind, dir);
      teardown.add(() => backend.cleanup());
      const env = { DROVER_CACHE_UPLOAD_IDLE_MS: '1500', ...(options.serverEnv ? await options.serverEnv() : {}) };
      Object.assign(process.env, env); // the server is spawned with this process's environment
      server = await startServer(backend);
      teardown.add(() => server.stop());
      admin = await createToken(backend, 'admin');
      const created = await drover(['cache', 'create', 'main', '--json', '--server', server.url], { DROVER_ADMIN_TOKEN: admin });
      assert.equal(created.code, 0, created.stderr);
      cache = JSON.parse(created.stdout) as CacheInfo;
      push = await createToken(backend, 'push', ['--cache', 'main']);
      pull = await createToken(backend, 'pull');
    });
    after(async () => {
      for (const p of procs) await p.stop('SIGKILL').catch(() => {});
      await teardown.run().catch(() => {});
    });

    test('cache info: substituter URL and NAME-1 public key; nix-cache-info advertises WantMassQuery and Priority', async () => {
      assert.equal(cache.substituter, cacheUrl());
      assert.match(cache.publicKey, /^main-1:[A-Za-z0-9+/]{43}=$/);
      const res = await fetch(`${cacheUrl()}/nix-cache-info`, { headers: { authorization: basic(pull) } });
      const text = await res.text();
      assert.match(text, /^StoreDir: \/nix\/store$/m);
      assert.match(text, /^WantMassQuery: 1$/m);
      assert.match(text, /^Priority: \d+$/m);
    });

    test('real nix copy --to, then substitution into a store that lacked the paths, signed with the cache key', async () => {
      const paths = [fixtures.nixos_b];
      const pushed = await nixCopyTo(paths, push);
      assert.equal(pushed.code, 0, pushed.stderr);
      const all = await closure(paths);
      const fetched = await nixCopyFrom(paths, pull, cache.publicKey);
      assert.equal(fetched.code, 0, fetched.stderr);
      const got = await readdir(join(fetched.store, 'nix', 'store'));
      for (const p of all) assert.ok(got.includes(p.slice('/nix/store/'.length)), `${p} substituted`);
      const narinfo = await (await fetch(`${cacheUrl()}/${hashOf(fixtures.nixos_b)}.narinfo`, { headers: { authorization: basic(pull) } })).text();
      assert.match(narinfo, new RegExp(`^Sig: ${cache.publicKey.split(':')[0]}:`, 'm'));
      const wrongKey = await nixCopyFrom(paths, pull, `main-1:${randomBytes(32).toString('base64')}`);
      assert.notEqual(wrongKey.code, 0, 'a wrong key is refused');
      assert.match(wrongKey.stderr, /signature/);
    });

    test('concurrent pushes of one closure all succeed; a second cache shares the NARs and signs with its own key', async () => {
      const created = await drover(['cache', 'create', `two-${randomBytes(3).toString('hex')}`, '--json', '--server', server.url], {
        DROVER_ADMIN_TOKEN: admin,
      });
      assert.equal(created.code, 0, created.stderr);
      const second = JSON.parse(created.stdout) as CacheInfo;
      const anyCache = await createToken(backend, 'push');
      const paths = [fixtures.nixos_slow];
      const pushes = await Promise.all([
        nixCopyTo(paths, push),
        nixCopyTo(paths, push),
        nixCopyTo(paths, anyCache, second.substituter),
        nixCopyTo(paths, anyCache, second.substituter),
      ]);
      for (const r of pushes) assert.equal(r.code, 0, r.stderr);
      for (const [url, key] of [
        [cacheUrl(), cache.publicKey],
        [second.substituter, second.publicKey],
      ] as const) {
        const fetched = await nixCopyFrom(paths, pull, key, url);
        assert.equal(fetched.code, 0, `${url}: ${fetched.stderr}`);
      }
      const narinfoOf = async (url: string) =>
        (await fetch(`${url}/${hashOf(fixtures.nixos_slow)}.narinfo`, { headers: { authorization: basic(pull) } })).text();
      const [one, two] = [await narinfoOf(cacheUrl()), await narinfoOf(second.substituter)];
      const field = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}: `));
      assert.deepEqual(field(one, 'URL'), field(two, 'URL'), 'one NAR file serves both caches');
      assert.deepEqual(field(one, 'NarHash'), field(two, 'NarHash'));
      assert.match(field(one, 'Sig').join(), new RegExp(`^Sig: ${cache.publicKey.split(':')[0]}:`));
      assert.match(field(two, 'Sig').join(), new RegExp(`^Sig: ${second.publicKey.split(':')[0]}:`));
    });

    test("an uploader's signature is kept only by a cache told to trust its key; the cache's own is always added", async () => {
      const keys = await mkdtemp(join(dir, 'ci-key-'));
      const gen = await run('nix-store', ['--generate-binary-cache-key', 'ci-1', join(keys, 'sk'), join(keys, 'pk')]);
      assert.equal(gen.code, 0, gen.stderr);
      const ciKey = (await readFile(join(keys, 'pk'), 'utf8')).trim();
      const suffix = randomBytes(3).toString('hex');
      const make = async (name: string, trust: string[]) => {
        const r = await drover(['cache', 'create', name, ...trust.flatMap((k) => ['--trust-key', k]), '--json', '--server', server.url], {
          DROVER_ADMIN_TOKEN: admin,
        });
        assert.equal(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as CacheInfo;
      };
      const trusting = await make(`trusting-${suffix}`, [ciKey]);
      const other = await make(`other-${suffix}`, []);
      const anyCache = await createToken(backend, 'push');
      for (const c of [trusting, other]) {
        const r = await run(
          'nix',
          [
            'copy',
            '--to',
            `${c.substituter}?compression=zstd&secret-key=${join(keys, 'sk')}`,
            '--option',
            'netrc-file',
            await netrc(anyCache),
            fixtures.nixos_failing,
          ],
          {
            env: { XDG_CACHE_HOME: await mkdtemp(join(dir, 'push-cache-')) },
          },
        );
        assert.equal(r.code, 0, r.stderr);
      }
      const sigs = async (c: CacheInfo) =>
        (await (await fetch(`${c.substituter}/${hashOf(fixtures.nixos_failing)}.narinfo`, { headers: { authorization: basic(pull) } })).text())
          .split('\n')
          .filter((l) => l.startsWith('Sig: '))
          .map((l) => l.slice(5).split(':')[0])
          .sort();
      assert.deepEqual(await sigs(trusting), ['ci-1', `trusting-${suffix}-1`].sort());
      assert.deepEqual(await sigs(other), [`other-${suffix}-1`], 'an untrusted signature is dropped');
    });

    test('unauthorized push is 401, a pull token cannot push (403), a private cache needs a token (401), a public one does not', async () => {
      const narinfo = `${cacheUrl()}/${hashOf(fixtures.nixos_b)}.narinfo`;
      assert.equal((await fetch(narinfo, { method: 'PUT', body: 'x' })).status, 401);
      assert.equal((await fetch(narinfo, { method: 'PUT', body: 'x', headers: { authorization: basic(pull) } })).status, 403);
      const anonymous = await fetch(narinfo);
      assert.equal(anonymous.status, 401);
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /Basic/);
      assert.equal((await fetch(narinfo, { headers: { authorization: `Bearer ${pull}` } })).status, 200, 'Bearer works too');
      const denied = await nixCopyTo([fixtures.plain], pull);
      assert.notEqual(denied.code, 0);
      const pub = await drover(['cache', 'create', `pub-${randomBytes(3).toString('hex')}`, '--public', '--json', '--server', server.url], {
        DROVER_ADMIN_TOKEN: admin,
      });
      const info = JSON.parse(pub.stdout) as CacheInfo;
      assert.equal((await fetch(`${info.substituter}/nix-cache-info`)).status, 200);
      // The push token is bound to "main".
      assert.equal(
        (await fetch(`${info.substituter}/nix-cache-info`, { method: 'PUT', body: 'StoreDir: /nix/store\n', headers: { authorization: basic(push) } })).status,
        403,
      );
    });

    test('corrupted, truncated and bodiless NAR uploads are rejected at once and leave nothing visible; a narinfo needs its NAR and references', async () => {
      const dump = await run('bash', ['-c', `nix-store --dump ${fixtures.rollback_fail} | base64 -w0`]);
      const nar = Buffer.from(dump.stdout, 'base64');
      const name = `${toNixBase32(createHash('sha256').update(nar).digest())}.nar`;
      const url = `${cacheUrl()}/nar/${name}`;
      const auth = { authorization: basic(push), 'content-type': 'application/x-nix-nar' };
      const corrupted = Buffer.from(nar);
      corrupted[corrupted.length - 20] = corrupted[corrupted.length - 20]! ^ 0xff;
      assert.equal((await rawPut(url, auth, corrupted)).status, 400);
      assert.equal((await fetch(url, { method: 'HEAD', headers: auth })).status, 404, 'corrupted upload invisible');
      const truncated = await rawPut(url, auth, nar, { sendBytes: Math.floor(nar.length / 2), closeAfterMs: 200 });
      assert.ok(truncated.status === 0 || truncated.status >= 400, `truncated: ${truncated.status}`);
      assert.equal((await fetch(url, { method: 'HEAD', headers: auth })).status, 404, 'truncated upload invisible');
      const stalled = await rawPut(url, auth, Buffer.alloc(0), { declared: nar.length, sendBytes: 0 });
      assert.equal(stalled.status, 408, 'a bodiless retry gets a 4xx');
      assert.ok(stalled.ms < 5000, `answered in ${stalled.ms} ms`);
      assert.equal((await fetch(url, { method: 'PUT', headers: auth, body: '' })).status, 400, 'an empty body is refused at once');
      // A narinfo before its NAR, or with a wrong NarHash, is refused.
      const narinfoUrl = `${cacheUrl()}/${hashOf(fixtures.rollback_fail)}.narinfo`;
      const narinfo = (narHash: string) =>
        `StorePath: ${fixtures.rollback_fail}\nURL: nar/${name}\nCompression: none\nFileHash: sha256:${name.slice(0, 52)}\nFileSize: ${nar.length}\nNarHash: ${narHash}\nNarSize: ${nar.length}\nReferences: \n`;
      const good = `sha256:${name.slice(0, 52)}`;
      assert.equal((await fetch(narinfoUrl, { method: 'PUT', headers: auth, body: narinfo(good) })).status, 409);
      assert.equal((await rawPut(url, auth, nar)).status, 204);
      assert.equal((await fetch(narinfoUrl, { method: 'PUT', headers: auth, body: narinfo(`sha256:${'0'.repeat(52)}`) })).status, 400);
      assert.equal((await fetch(narinfoUrl, { headers: auth })).status, 404);
      // References that are not in the cache are refused (the rollback script references bash? use a made-up one).
      const withRef = narinfo(good).replace('References: ', `References: ${'1'.repeat(32)}-missing`);
      assert.equal((await fetch(narinfoUrl, { method: 'PUT', headers: auth, body: withRef })).status, 409);
      assert.equal((await fetch(narinfoUrl, { method: 'PUT', headers: auth, body: narinfo(good) })).status, 204);
      assert.equal((await fetch(narinfoUrl, { headers: auth })).status, 200);
      // Path traversal and oversized names never reach storage.
      assert.equal((await fetch(`${cacheUrl()}/nar/..%2f..%2fetc%2fpasswd`, { method: 'PUT', headers: auth, body: 'x' })).status, 400);
      const oversized = (await fetch(`${cacheUrl()}/nar/${'a'.repeat(300)}.nar`, { headers: auth })).status;
      assert.ok(oversized === 404 || oversized === 414, `oversized name: ${oversized}`);
    });

    test('drover push: one missing-paths query, parallel uploads, nothing the second time; the result substitutes', async () => {
      const paths = [fixtures.darwin, fixtures.home_manager];
      const first = await drover(['push', 'main', ...paths, '--server', server.url], { DROVER_PUSH_TOKEN: push });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /pushed \d+ paths/);
      const again = await drover(['push', 'main', ...paths, '--server', server.url], { DROVER_PUSH_TOKEN: push });
      assert.match(again.stderr, /pushing 0/);
      const fetched = await nixCopyFrom(paths, pull, cache.publicKey);
      assert.equal(fetched.code, 0, fetched.stderr);
      const denied = await drover(['push', 'main', fixtures.plain, '--server', server.url], { DROVER_PUSH_TOKEN: pull });
      assert.notEqual(denied.code, 0);
    });

    test('an agent deploys from the built-in cache with nothing configured by hand; GC keeps the deployed closure and deletes an undeployed one', async () => {
      const deployed = [fixtures.nixos, fixtures.rollback_ok];
      assert.equal((await nixCopyTo([...deployed, fixtures.plain], push)).code, 0);
      const deployedClosure = await closure(deployed);
      const plainOnly = (await closure([fixtures.plain])).filter((p) => !deployedClosure.includes(p));
      await deleteFromStore([...deployed, fixtures.plain]);
      assert.ok(!isInStore(fixtures.nixos));

      const agentToken = await createToken(backend, 'agent', ['--unbound']);
      const activate = await createToken(backend, 'activate');
      const name = randomName('agent');
      const home = join(dir, 'agents', name);
      await mkdir(home, { recursive: true });
      const profile = join(home, 'profiles', 'system');
      const agent = await startAgent(name, { server: server.url, token: agentToken, profile, stateDir: join(home, 'state') });
      procs.push(agent);
      const spec = join(dir, 'deploy.json');
      await writeFile(spec, JSON.stringify({ agents: { [name]: fixtures.nixos }, rollbackScript: { 'x86_64-linux': fixtures.rollback_ok } }));
      const r = await drover(['activate', spec, '--server', server.url], { DROVER_ACTIVATE_TOKEN: activate });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`fetching from ${cacheUrl()}`));
      assert.equal(await activePath(profile), fixtures.nixos);
      assert.doesNotMatch(agent.output + r.stdout, new RegExp(agentToken.split('_').pop()!), 'the token is never logged');
      const { stat } = await import('node:fs/promises');
      assert.equal((await stat(join(home, 'state', 'netrc'))).mode & 0o777, 0o600);

      const dry = await drover(['cache', 'gc', 'main', '--dry-run', '--grace', '0', '--json', '--server', server.url], { DROVER_ADMIN_TOKEN: admin });
      assert.equal(dry.code, 0, dry.stderr);
      const preview = JSON.parse(dry.stdout) as GcReport;
      assert.equal(preview.dryRun, true);
      assert.ok(preview.deleted.some((d) => d.storePath === fixtures.plain));
      assert.equal(
        (await fetch(`${cacheUrl()}/${hashOf(fixtures.plain)}.narinfo`, { headers: { authorization: basic(pull) } })).status,
        200,
        'a dry run deletes nothing',
      );

      const gc = await drover(['cache', 'gc', 'main', '--grace', '0', '--json', '--server', server.url], { DROVER_ADMIN_TOKEN: admin });
      assert.equal(gc.code, 0, gc.stderr);
      const report = JSON.parse(gc.stdout) as GcReport;
      const kept = new Set(report.kept.map((k) => k.storePath));
      for (const p of deployedClosure) assert.ok(kept.has(p), `${p} of the deployed closure is kept`);
      assert.ok(report.kept.find((k) => k.storePath === fixtures.nixos)?.reason.includes(name));
      const deleted = new Set(report.deleted.map((d) => d.storePath));
      for (const p of plainOnly) assert.ok(deleted.has(p), `${p} of the undeployed closure is deleted`);
      assert.ok(report.narsDeleted > 0 && report.bytesFreed > 0);
      assert.equal((await fetch(`${cacheUrl()}/${hashOf(fixtures.plain)}.narinfo`, { headers: { authorization: basic(pull) } })).status, 404);
      // The deployed closure still substitutes completely after GC.
      const fetched = await nixCopyFrom(deployed, pull, cache.publicKey);
      assert.equal(fetched.code, 0, fetched.stderr);
    });
  });
}
