/**
 * The server SIGKILLed in the middle of a `nix copy --to` upload of a 24 MiB
 * path to its built-in cache (issue 14 §3), end to end: real Nix uploading
 * through test-support's TCP proxy (bandwidth-limited so the NAR is still
 * streaming when the kill comes), a real `drover server` on SQLite with local
 * NAR storage. After the restart nothing half-written is visible — the
 * narinfo is a 404, the path is reported missing, no NAR file exists and the
 * upload's temporary file is swept — and the same `nix copy --to` then
 * succeeds and the path can be substituted from the cache.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { deleteFromStore, startTcpProxy, Teardown, waitFor, type TcpProxy } from '@drover/test-support';
import { run } from '../support/nix.js';
import { api, createToken, drover, makeBackend, type Backend, type ServerHandle, startServer } from '../support/drover.js';
import { bigPlainProfile } from './faults.js';

const MIB = 24;
const RATE = 3 * 1024 * 1024;
const basic = (token: string) => `Basic ${Buffer.from(`:${token}`).toString('base64')}`;

/** Regular files under `dir`, recursively (relative names); [] when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

describe('server SIGKILLed during a nix copy --to upload', { timeout: 300_000 }, () => {
  let dir: string;
  let backend: Backend;
  let server: ServerHandle;
  let proxy: TcpProxy;
  let push: string;
  let pull: string;
  let netrc: string;
  let big: string;
  const teardown = new Teardown();
  const storage = () => join(dir, 'data', 'cache');

  before(async () => {
    dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), 'faults-upload-'));
    if (!process.env['DROVER_TEST_KEEP']) teardown.add(() => rm(dir, { recursive: true, force: true }));
    backend = await makeBackend('sqlite', dir);
    // An interrupted upload's temp file is swept once older than 2 s (the shortest allowed: twice the idle timeout).
    process.env['DROVER_CACHE_UPLOAD_IDLE_MS'] = '1000';
    process.env['DROVER_CACHE_STALE_UPLOAD'] = '2';
    server = await startServer(backend);
    teardown.add(() => server.stop());
    const admin = await createToken(backend, 'admin');
    const created = await drover(['cache', 'create', 'main', '--server', server.url], { DROVER_ADMIN_TOKEN: admin });
    assert.equal(created.code, 0, created.stderr);
    push = await createToken(backend, 'push', ['--cache', 'main']);
    pull = await createToken(backend, 'pull');
    netrc = join(dir, 'netrc');
    await writeFile(netrc, `machine 127.0.0.1 password ${push}\n`, { mode: 0o600 });
    big = await bigPlainProfile(dir, 'big-upload', MIB);
    teardown.add(() => deleteFromStore([big]));
    proxy = await startTcpProxy(server.port, { bytesPerSecond: RATE });
    teardown.add(() => proxy.close());
  });
  after(() => teardown.run());

  const copyArgs = () => ['copy', '--to', `${proxy.url}/cache/main?compression=zstd`, '--option', 'netrc-file', netrc, big];
  const narinfo = () => `/cache/main/${basename(big).slice(0, 32)}.narinfo`;

  test('after the restart nothing half-written is visible, the temp file is swept, and the retry succeeds', async () => {
    const nix = run('nix', copyArgs(), { env: { XDG_CACHE_HOME: await mkdtemp(join(dir, 'xdg-')) }, timeoutMs: 120_000 });
    await waitFor('the upload to be half-way', () => proxy.bytes() >= (MIB / 3) * 1024 * 1024, 60_000, 20);
    const partial = await filesUnder(join(storage(), 'tmp'));
    assert.equal(partial.length, 1, `one upload is being written: ${partial.join(', ')}`);
    await server.proc.stop('SIGKILL');
    const failed = await nix;
    assert.notEqual(failed.code, 0, 'nix copy fails when the server dies under it');

    proxy.shape({ bytesPerSecond: undefined });
    await server.restart();
    const res = await fetch(`${server.url}${narinfo()}`, { headers: { authorization: basic(pull) } });
    assert.equal(res.status, 404, 'no narinfo for the half-uploaded path');
    const missing = await api<{ missing: string[] }>(server.url, push, 'POST', '/caches/main/missing', { paths: [big] });
    assert.deepEqual(missing.json.missing, [big]);
    assert.deepEqual(
      (await filesUnder(storage())).filter((f) => !f.startsWith('tmp/')),
      [],
      'no NAR file was kept',
    );
    await waitFor("the killed upload's temp file to be swept", async () => (await filesUnder(join(storage(), 'tmp'))).length === 0, 20_000, 200);

    const retried = await run('nix', copyArgs(), { env: { XDG_CACHE_HOME: await mkdtemp(join(dir, 'xdg-')) }, timeoutMs: 120_000 });
    assert.equal(retried.code, 0, retried.stderr);
    const served = await fetch(`${server.url}${narinfo()}`, { headers: { authorization: basic(pull) } });
    assert.equal(served.status, 200);
    const text = await served.text();
    const url = /^URL: (.+)$/m.exec(text)?.[1];
    assert.ok(url, text);
    const nar = await fetch(`${server.url}/cache/main/${url}`, { headers: { authorization: basic(pull) } });
    assert.equal(nar.status, 200);
    assert.equal(Number(/^FileSize: (\d+)$/m.exec(text)?.[1]), (await nar.arrayBuffer()).byteLength, 'the whole NAR is served');
  });
});
