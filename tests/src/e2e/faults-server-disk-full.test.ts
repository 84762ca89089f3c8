/**
 * The server's data directory on a full file system (issue 14 §3), end to
 * end: a real `drover server` on SQLite whose --data-dir (database and local
 * NAR storage) is a 16 MiB tmpfs the test fills, a real agent, real Nix and
 * `drover push` / `drover activate`. While full: an upload fails with 507
 * DROVER_ERR_INSUFFICIENT_STORAGE, an activation fails with the same code,
 * and reads (narinfo, NAR, agents, deployments) keep answering. Once space
 * returns, without a restart, an upload and a deployment work again, and the
 * database passes SQLite's integrity check.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { deleteFromStore, mountSmallTmpfs, Teardown } from '@drover/test-support';
import { api, createToken, drover, startAgent, startServer, type Backend, type DroverProcess, type ServerHandle } from '../support/drover.js';
import { bigPlainProfile } from './faults.js';
import { activePath, deploymentIds } from './harness.js';

const disk = mountSmallTmpfs({ size: '16m' });
const basic = (token: string) => `Basic ${Buffer.from(`:${token}`).toString('base64')}`;

describe('server data directory on a full file system', { timeout: 300_000, skip: typeof disk === 'string' ? disk : false }, () => {
  if (typeof disk === 'string') return;
  let dir: string;
  let server: ServerHandle;
  let agent: DroverProcess;
  let profile: string;
  const tokens = { admin: '', activate: '', push: '', pull: '' };
  const paths: string[] = [];
  const teardown = new Teardown();
  const dataDir = join(disk.root, 'data');
  const backend: Backend = { kind: 'sqlite', flags: ['--data-dir', dataDir], cleanup: async () => {} };
  const activate = (path: string, extra: readonly string[] = []) =>
    drover(['activate', '-', '--server', server.url, ...extra], { DROVER_ACTIVATE_TOKEN: tokens.activate }, JSON.stringify({ agents: { full: path } }));
  const pushPath = (path: string) => drover(['push', 'main', path, '--server', server.url], { DROVER_PUSH_TOKEN: tokens.push });

  before(async () => {
    teardown.add(async () => disk.unmount());
    teardown.add(() => (process.env['DROVER_TEST_KEEP'] ? Promise.resolve() : deleteFromStore(paths))); // after the agent's GC roots under `dir` are gone
    dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), 'faults-server-full-'));
    if (!process.env['DROVER_TEST_KEEP']) teardown.add(() => rm(dir, { recursive: true, force: true }));
    await mkdir(dataDir);
    server = await startServer(backend);
    teardown.add(() => server.stop());
    tokens.admin = await createToken(backend, 'admin');
    tokens.activate = await createToken(backend, 'activate');
    const created = await drover(['cache', 'create', 'main', '--server', server.url], { DROVER_ADMIN_TOKEN: tokens.admin });
    assert.equal(created.code, 0, created.stderr);
    tokens.push = await createToken(backend, 'push', ['--cache', 'main']);
    tokens.pull = await createToken(backend, 'pull');
    for (const name of ['full-a', 'full-b', 'full-c']) paths.push(await bigPlainProfile(dir, name, 1));
    profile = join(dir, 'agent', 'profiles', 'system');
    const token = await createToken(backend, 'agent', ['--agent', 'full']);
    agent = await startAgent('full', { server: server.url, token, profile, stateDir: join(dir, 'agent', 'state') });
    teardown.add(() => agent.stop('SIGKILL'));
  });
  after(() => teardown.run());

  test('full: uploads and activations answer 507, reads keep working; freed: both work again, the database is intact', async () => {
    const [a, b, c] = paths as [string, string, string];
    assert.equal((await pushPath(a)).code, 0);
    const first = await activate(a);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const firstId = deploymentIds(first.stdout).get('full')!;

    disk.fill();
    // SQLite may still fit a few rows into pages it holds; writes that fail use those up.
    for (let i = 0; i < 200; i++) {
      const r = await api(server.url, tokens.admin, 'POST', '/tokens', { kind: 'pull', description: 'x'.repeat(200) });
      if (r.status === 507) break;
      assert.equal(r.status, 201, JSON.stringify(r.json));
    }
    const pushed = await pushPath(b);
    assert.equal(pushed.code, 1, pushed.stderr);
    assert.match(pushed.stderr, /DROVER_ERR_INSUFFICIENT_STORAGE|no space left/);
    // b could not be pushed, so the cache check would refuse it (409) before anything is written: skip it, the write is what fails here.
    const refused = await activate(b, ['--no-cache-check']);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /disk is full|no space left/);
    assert.match(refused.stderr, /hint: The server's disk is full/);
    const raw = await api<{ code: string }>(server.url, tokens.activate, 'POST', '/activate?cacheCheck=false', { agents: { full: c } });
    assert.equal(raw.status, 507, JSON.stringify(raw.json));
    assert.equal(raw.json.code, 'DROVER_ERR_INSUFFICIENT_STORAGE');

    // Reads keep working: the narinfo and NAR pushed before, the agent list, the first deployment.
    const narinfo = await fetch(`${server.url}/cache/main/${basename(a).slice(0, 32)}.narinfo`, { headers: { authorization: basic(tokens.pull) } });
    assert.equal(narinfo.status, 200);
    const url = /^URL: (.+)$/m.exec(await narinfo.text())?.[1];
    const nar = await fetch(`${server.url}/cache/main/${url ?? 'none'}`, { headers: { authorization: basic(tokens.pull) } });
    assert.equal(nar.status, 200);
    await nar.arrayBuffer();
    assert.equal((await api(server.url, tokens.activate, 'GET', '/agents')).status, 200);
    assert.equal((await api<{ status: string }>(server.url, tokens.activate, 'GET', `/deployments/${firstId}`)).json.status, 'Succeeded');
    assert.equal(server.proc.running, true);
    assert.equal(agent.running, true);

    disk.free();
    assert.equal((await pushPath(b)).code, 0, 'the upload works once space returns');
    const again = await activate(b);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(await activePath(profile), b);

    await server.stop();
    const db = new Database(join(dataDir, 'drover.sqlite'), { readonly: true });
    try {
      assert.deepEqual(db.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
    } finally {
      db.close();
    }
  });
});
