/**
 * The binary cache's in-memory narinfos (cache/memo.ts) and the fast path
 * that serves them (http/cache-fast-path.ts), over real HTTP (app.inject
 * never reaches the fast path): the fast answer is the route's; a private
 * cache's narinfo is never served without its token; and with two replicas
 * on one PostgreSQL database, what one replica removes (GC, a replaced
 * narinfo, a deleted workspace) the other stops serving within the bus's
 * delivery time, while a revoked pull token is refused by the other replica
 * at once. A narinfo deleted behind the server's back (no bus event) is
 * still served from memory: that is what shows the copies exist.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { dropSchema, findPostgres, randomSchema, tempDir, waitFor, type TempDir } from '@drover/test-support';
import { createToken } from '../src/auth/tokens.js';
import { createWorkspace } from '../src/workspaces/repository.js';
import { deleteWorkspace } from '../src/workspaces/service.js';
import { startServer, type RunningServer } from '../src/server.js';
import { batchBody, fakePath, type FakePath } from './cache-support.js';
import { backendCases, type BackendName } from './support.js';

/** Servers sharing one database: one on SQLite, any number on PostgreSQL. */
class Replicas {
  private dir: TempDir | undefined;
  private url: string | undefined;
  private schema: string | undefined;
  private readonly servers: RunningServer[] = [];

  constructor(readonly backend: BackendName) {}

  async start(): Promise<RunningServer> {
    if (this.backend === 'sqlite') this.dir ??= await tempDir('drover-cache-memo-');
    else {
      this.url = (await findPostgres()).url;
      this.schema ??= randomSchema('drover_cache_memo_');
    }
    const server = await startServer({
      listen: '127.0.0.1:0',
      dataDir: this.dir?.path ?? join(tmpdir(), 'drover-cache-memo-unused'),
      databaseUrl: this.url,
      databaseSchema: this.schema,
      logger: pino({ level: 'silent' }),
      cache: { gcGraceSeconds: 0 },
    });
    this.servers.push(server);
    return server;
  }

  async remove(): Promise<void> {
    for (const s of this.servers) await s.close();
    await this.dir?.remove();
    if (this.url && this.schema) await dropSchema(this.url, this.schema);
  }
}

async function workspaceId(server: RunningServer, name = 'default'): Promise<string> {
  return (await server.context.db.selectFrom('workspaces').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id;
}

/** `drover push` of `paths` through `server` (Fastify, as the CLI does). */
async function push(server: RunningServer, cache: string, token: string, paths: readonly FakePath[]): Promise<void> {
  const r = await server.app.inject({
    method: 'POST',
    url: `/api/v1/caches/${cache}/paths`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    payload: batchBody(paths.map((path) => ({ path }))),
  });
  assert.equal(r.statusCode, 204, r.body);
}

/** A GET or HEAD over a real connection. */
async function get(server: RunningServer, path: string, opts: { token?: string; method?: 'GET' | 'HEAD' } = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method: opts.method ?? 'GET',
    headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
  });
  const body = await res.text();
  return {
    status: res.status,
    body,
    type: res.headers.get('content-type'),
    cacheControl: res.headers.get('cache-control'),
    length: res.headers.get('content-length'),
  };
}

const narinfoUrl = (cache: string, p: FakePath) => `/cache/${cache}/${p.hash}.narinfo`;

/** Deletes a narinfo in the database only: no replica hears of it. */
async function deleteBehindTheServersBack(server: RunningServer, cache: string, p: FakePath): Promise<void> {
  const row = await server.context.cache.findCache(cache);
  await server.context.db.deleteFrom('cache_paths').where('cache_id', '=', row.id).where('store_hash', '=', p.hash).execute();
}

/** Polls until `path` on `server` answers `status`; the milliseconds it took. */
async function answersWithin(server: RunningServer, path: string, status: number, what: string): Promise<number> {
  const t = Date.now();
  await waitFor(what, async () => (await get(server, path)).status === status, 5_000);
  return Date.now() - t;
}

for (const { backend, skip } of await backendCases()) {
  describe(`binary cache narinfos in memory, one server (${backend})`, { skip }, () => {
    const replicas = new Replicas(backend);
    let a: RunningServer;
    let pushToken: string;
    before(async () => {
      a = await replicas.start();
      const ws = await workspaceId(a);
      await a.context.cache.createCache(ws, 'open', { public: true });
      await a.context.cache.createCache(ws, 'closed');
      pushToken = (await createToken(a.context.db, { workspaceId: ws, kind: 'push' })).token;
    });
    after(() => replicas.remove());

    test('the fast answer (from memory) is the route’s, for GET and HEAD, and is counted in /metrics', async () => {
      const p = fakePath('fast-same');
      await push(a, 'open', pushToken, [p]);
      const first = await get(a, narinfoUrl('open', p)); // Fastify: reads the database, remembers it
      const again = await get(a, narinfoUrl('open', p)); // the fast path
      assert.equal(first.status, 200);
      assert.deepEqual(again, first);
      assert.match(first.body, new RegExp(`^StorePath: ${p.storePath}$`, 'm'));
      assert.equal(first.type, 'text/x-nix-narinfo');
      assert.equal(first.cacheControl, 'public, max-age=300');
      assert.equal(first.length, String(Buffer.byteLength(first.body)));
      const head = await get(a, narinfoUrl('open', p), { method: 'HEAD' });
      assert.deepEqual({ ...head, body: first.body }, first, 'HEAD: the same headers, no body');
      assert.equal(head.body, '');

      await deleteBehindTheServersBack(a, 'open', p);
      assert.equal((await get(a, narinfoUrl('open', p))).status, 200, 'served from memory (the database no longer has it)');

      const admin = (await createToken(a.context.db, { workspaceId: await workspaceId(a), kind: 'admin' })).token;
      const metrics = await get(a, '/metrics', { token: admin });
      const counted = [
        ...metrics.body.matchAll(/^drover_http_request_duration_seconds_count\{method="(GET|HEAD)",route="\/cache\/:name\/:file",status="200"\} (\d+)$/gm),
      ];
      assert.equal(
        counted.reduce((sum, m) => sum + Number(m[2]), 0),
        4,
        'all four narinfo requests counted, fast or not',
      );
    });

    test('a private cache’s narinfo, remembered after a pull with a token, is never served without one', async () => {
      const p = fakePath('closed-path');
      await push(a, 'closed', pushToken, [p]);
      const pull = (await createToken(a.context.db, { workspaceId: await workspaceId(a), kind: 'pull' })).token;
      assert.equal((await get(a, narinfoUrl('closed', p), { token: pull })).status, 200);
      assert.equal((await get(a, narinfoUrl('closed', p), { token: pull })).status, 200);
      const anonymous = await get(a, narinfoUrl('closed', p));
      assert.equal(anonymous.status, 401, anonymous.body);
      assert.equal((await get(a, narinfoUrl('closed', p), { token: 'drover_pull_0000_nope' })).status, 401);
    });

    test('GC forgets what it deleted at once on its own replica', async () => {
      const p = fakePath('gc-local');
      await push(a, 'open', pushToken, [p]);
      assert.equal((await get(a, narinfoUrl('open', p))).status, 200);
      assert.equal((await get(a, narinfoUrl('open', p))).status, 200);
      const report = await a.context.cache.collectGarbage('open', await workspaceId(a), { dryRun: false, graceSeconds: 0 });
      assert.ok(
        report.deleted.some((d) => d.storePath === p.storePath),
        JSON.stringify(report.deleted),
      );
      assert.equal((await get(a, narinfoUrl('open', p))).status, 404, 'no waiting for the bus on the replica that collected');
    });
  });
}

const postgres = await findPostgres();
describe('binary cache narinfos in memory, two replicas on PostgreSQL', { skip: postgres.skip }, () => {
  const replicas = new Replicas('postgres');
  let a: RunningServer;
  let b: RunningServer;
  let ws: string;
  let pushToken: string;
  before(async () => {
    a = await replicas.start();
    b = await replicas.start();
    ws = await workspaceId(a);
    await a.context.cache.createCache(ws, 'shared', { public: true });
    await a.context.cache.createCache(ws, 'private');
    pushToken = (await createToken(a.context.db, { workspaceId: ws, kind: 'push' })).token;
  });
  after(() => replicas.remove());

  /** Pushes `p` through A and has B read it twice (so B holds it in memory). */
  async function servedByB(cache: string, p: FakePath, token?: string): Promise<void> {
    await push(a, cache, pushToken, [p]);
    for (let i = 0; i < 2; i++) assert.equal((await get(b, narinfoUrl(cache, p), token ? { token } : {})).status, 200);
  }

  test('B serves from memory what it read: a row deleted behind both servers’ backs is still served', async () => {
    const p = fakePath('behind-back');
    await servedByB('shared', p);
    await deleteBehindTheServersBack(a, 'shared', p);
    assert.equal((await get(b, narinfoUrl('shared', p))).status, 200);
    assert.equal((await get(a, narinfoUrl('shared', p))).status, 404, 'A never read it, so it asks the database');
  });

  test('GC on A: B stops serving the deleted narinfos (bus), and keeps serving the ones GC kept', async () => {
    const gone = fakePath('gc-gone');
    const pinned = fakePath('gc-pinned');
    await servedByB('shared', gone);
    await servedByB('shared', pinned);
    await a.context.cache.pin('shared', ws, pinned.storePath);
    const report = await a.context.cache.collectGarbage('shared', ws, { dryRun: false, graceSeconds: 0 });
    assert.ok(report.deleted.some((d) => d.storePath === gone.storePath));
    const ms = await answersWithin(b, narinfoUrl('shared', gone), 404, 'B to stop serving the collected narinfo');
    assert.ok(ms < 2_000, `B forgot it ${ms} ms after the GC`);
    assert.equal((await get(b, narinfoUrl('shared', pinned))).status, 200);
  });

  test('a narinfo replaced on A (a stored one that fails validation) is served new by B', async () => {
    const p = fakePath('replaced');
    await push(a, 'shared', pushToken, [p]);
    const cache = await a.context.cache.findCache('shared');
    const poisoned = `StorePath: ${p.storePath}\nURL: nar/${p.file}\nNarHash: bogus\n`;
    await a.context.db.updateTable('cache_paths').set({ narinfo: poisoned }).where('cache_id', '=', cache.id).where('store_hash', '=', p.hash).execute();
    for (let i = 0; i < 2; i++) assert.equal((await get(b, narinfoUrl('shared', p))).body, poisoned, 'B read the poisoned one');
    await push(a, 'shared', pushToken, [p]); // a valid upload replaces it
    await waitFor('B to serve the replacement', async () => (await get(b, narinfoUrl('shared', p))).body !== poisoned, 5_000);
    assert.match((await get(b, narinfoUrl('shared', p))).body, /^Sig: /m);
  });

  test('a workspace deleted on A: B stops serving its caches', async () => {
    const other = await createWorkspace(a.context.db, 'doomed');
    await a.context.cache.createCache(other.id, 'doomed-cache', { public: true });
    const otherPush = (await createToken(a.context.db, { workspaceId: other.id, kind: 'push' })).token;
    const p = fakePath('doomed');
    await push(a, 'doomed-cache', otherPush, [p]);
    for (let i = 0; i < 2; i++) assert.equal((await get(b, narinfoUrl('doomed-cache', p))).status, 200);
    await deleteWorkspace(a.context.db, a.context.bus, other.id);
    await answersWithin(b, narinfoUrl('doomed-cache', p), 404, 'B to stop serving the deleted workspace’s cache');
  });

  test('a pull token revoked on A is refused by B at once, though B holds the narinfo in memory', async () => {
    const p = fakePath('private-path');
    const pull = await createToken(a.context.db, { workspaceId: ws, kind: 'pull' });
    await servedByB('private', p, pull.token);
    const admin = (await createToken(a.context.db, { workspaceId: ws, kind: 'admin' })).token;
    const revoked = await a.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${pull.row.id}`, headers: { authorization: `Bearer ${admin}` } });
    assert.ok(revoked.statusCode < 300, revoked.body);
    const refused = await get(b, narinfoUrl('private', p), { token: pull.token });
    assert.equal(refused.status, 401, `the very next request after the revocation: ${refused.body}`);
    assert.match(refused.body, /DROVER_ERR_TOKEN_REVOKED/);
    assert.equal((await get(a, narinfoUrl('private', p), { token: pull.token })).status, 401);
  });
});
