/**
 * `drover push` over a slow link: a real server on SQLite behind the
 * test-support's TCP proxy (+20 ms round trip). The benchmark's push through
 * its old proxy stalled because the proxy reordered bytes (its unit test now
 * checks the order); this checks that a push of many small paths through it
 * completes in a few batched requests with every path then present; and that
 * a batch is all-or-nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dumpNar } from '@drover/nix';
import { startTcpProxy, Teardown, type TcpProxy } from '@drover/test-support';
import { run } from '../support/nix.js';
import { api, createToken, drover, makeBackend, type Backend, type ServerHandle, startServer } from '../support/drover.js';

const RTT_MS = 20;
const PATHS = 60;

describe('drover push through a +20 ms RTT TCP proxy', { timeout: 300_000 }, () => {
  let dir: string;
  let backend: Backend;
  let server: ServerHandle;
  let proxy: TcpProxy;
  let push: string;
  /** What `before` created, undone by `after`. */
  const teardown = new Teardown();

  before(async () => {
    dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), 'push-latency-'));
    if (!process.env['DROVER_TEST_KEEP']) teardown.add(() => rm(dir, { recursive: true, force: true }).catch(() => {}));
    backend = await makeBackend('sqlite', dir);
    server = await startServer(backend);
    teardown.add(() => server.stop().catch(() => {}));
    const admin = await createToken(backend, 'admin');
    const created = await drover(['cache', 'create', 'slow', '--server', server.url], { DROVER_ADMIN_TOKEN: admin });
    assert.equal(created.code, 0, created.stderr);
    push = await createToken(backend, 'push');
    proxy = await startTcpProxy(server.port, { rttMs: RTT_MS });
    teardown.add(() => proxy.close());
  });
  after(() => teardown.run());

  test(`pushing ${PATHS} small paths completes, and every path is then in the cache`, async () => {
    const src = join(dir, 'paths');
    await mkdir(src);
    for (let i = 0; i < PATHS; i++) await writeFile(join(src, `p${i}`), randomBytes(4096));
    const added = await run('nix-store', ['--add', ...Array.from({ length: PATHS }, (_, i) => join(src, `p${i}`))]);
    assert.equal(added.code, 0, added.stderr);
    const paths = added.stdout.split('\n').filter((l) => l !== '');
    const via = `http://127.0.0.1:${proxy.port}`;
    const pushed = await drover(['push', 'slow', ...paths, '--server', via], { DROVER_PUSH_TOKEN: push });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, new RegExp(`pushed ${PATHS} paths`));
    const left = await api<{ missing: string[] }>(server.url, push, 'POST', '/caches/slow/missing', { paths });
    assert.deepEqual(left.json.missing, []);
    // Batched: far fewer requests than paths (1 query + about one batch per job).
    assert.ok(proxy.connections() <= 20, `${proxy.connections()} connections`);
  });

  test('a batch whose path references an absent path is refused whole; a malformed one is a 400', async () => {
    const src = join(dir, 'batch');
    await mkdir(src);
    await writeFile(join(src, 'a'), randomBytes(64));
    const a = (await run('nix-store', ['--add', join(src, 'a')])).stdout.trim();
    const info = JSON.parse((await run('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--json', a])).stdout) as {
      narHash: string;
      narSize: number;
    }[];
    const nar = Buffer.concat(await dumpNar(a).toArray());
    const entry = (references: string[]) => ({
      storePath: a,
      narHash: info[0]!.narHash,
      narSize: info[0]!.narSize,
      references,
      deriver: null,
      ca: null,
      sigs: [],
      fileSize: nar.length,
    });
    const post = (paths: unknown[], files: Buffer[]) => {
      const header = Buffer.from(JSON.stringify({ compression: 'none', paths }));
      const length = Buffer.alloc(4);
      length.writeUInt32LE(header.length);
      return fetch(`${server.url}/api/v1/caches/slow/paths`, {
        method: 'POST',
        headers: { authorization: `Bearer ${push}` },
        body: Buffer.concat([length, header, ...files]),
      });
    };
    const absent = 'x'.repeat(32) + '-absent';
    const refused = await post([entry([]), entry([absent])], [nar, nar]);
    assert.ok(refused.status >= 400 && refused.status < 500, `status ${refused.status}`);
    const left = await api<{ missing: string[] }>(server.url, push, 'POST', '/caches/slow/missing', { paths: [a] });
    assert.deepEqual(left.json.missing, [a], 'nothing of a refused batch is visible');
    assert.equal((await post([entry([])], [nar.subarray(1)])).status, 400);
    assert.equal((await post([entry([])], [nar])).status, 204);
  });
});
