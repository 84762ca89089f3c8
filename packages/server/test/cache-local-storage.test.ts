/**
 * The cache's local storage under faults (issue 12 #13, #14): temporary
 * files a killed upload left are removed at start and periodically once
 * older than the safety margin — while a live upload of another process
 * sharing the directory (`--workers`) is never touched — and a full file
 * system (a real 2 MiB tmpfs) answers DROVER_ERR_INSUFFICIENT_STORAGE (507)
 * and leaves nothing behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { batchBody, bearer, fakePath, fetchCache, pathInfoOf, pushBatch, putNar, putNarinfo } from './cache-support.js';
import { waitFor } from '@drover/test-support';
import { api, startTestServer, type TestServer } from './support.js';

const HOUR_AGO = new Date(Date.now() - 3600_000 - 60_000);

/** A server whose NARs live in `dir` (SQLite elsewhere), with one cache "main" and a push token. */
async function serverOn(dir: string, cache: { uploadIdleMs?: number; staleUploadSeconds?: number } = {}): Promise<{ t: TestServer; push: string }> {
  const t = await startTestServer('sqlite', { server: { cache: { storage: { kind: 'local', dir }, ...cache } } });
  await t.server.context.cache.createCache(t.defaultWorkspaceId, 'main');
  return { t, push: (await t.mint('push')).token };
}

/** Files left in the storage's tmp/ and nar/ directories. */
async function leftovers(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['tmp', 'nar']) if (existsSync(join(dir, sub))) out.push(...(await readdir(join(dir, sub))).map((f) => `${sub}/${f}`));
  return out;
}

describe('stale temporary upload files', () => {
  let dir: string;
  const servers: TestServer[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drover-cache-tmp-'));
  });
  after(async () => {
    for (const s of servers) await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('at start, files older than the margin go and fresh ones stay', async () => {
    await mkdir(join(dir, 'tmp'), { recursive: true });
    await writeFile(join(dir, 'tmp', 'killed-upload'), randomBytes(1000));
    await utimes(join(dir, 'tmp', 'killed-upload'), HOUR_AGO, HOUR_AGO);
    await writeFile(join(dir, 'tmp', 'live-upload'), randomBytes(1000));
    const { t } = await serverOn(dir);
    servers.push(t);
    assert.deepEqual(await readdir(join(dir, 'tmp')), ['live-upload']);
  });

  test('a process starting on shared storage does not break another process’s upload in flight', async () => {
    const { t, push } = await serverOn(dir);
    servers.push(t);
    const p = fakePath('in-flight', randomBytes(64 * 1024));
    const url = new URL(`/cache/main/nar/${p.file}`, t.url);
    const status = new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'PUT', headers: { ...bearer(push), 'content-length': String(p.bytes.length) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(p.bytes.subarray(0, 1000));
      // A sibling worker starts while the upload's temporary file is open, then the upload ends.
      void waitFor('the upload has a temporary file', async () => (await readdir(join(dir, 'tmp'))).length > 1, 10_000, 25)
        .then(() => serverOn(dir))
        .then((sibling) => {
          servers.push(sibling.t);
          req.end(p.bytes.subarray(1000));
        }, reject);
    });
    assert.equal(await status, 204);
    assert.equal((await putNarinfo(t, 'main', p, push)).status, 204);
    assert.equal((await fetchCache(t, 'GET', `/cache/main/nar/${p.file}`, push)).status, 200);
  });

  test('a long-running server sweeps periodically', async () => {
    const own = await mkdtemp(join(tmpdir(), 'drover-cache-sweep-'));
    try {
      const { t } = await serverOn(own, { uploadIdleMs: 100, staleUploadSeconds: 0.2 });
      servers.push(t);
      await writeFile(join(own, 'tmp', 'killed-later'), 'x');
      await utimes(join(own, 'tmp', 'killed-later'), HOUR_AGO, HOUR_AGO);
      await waitFor('the periodic sweep removed the stale file', () => !existsSync(join(own, 'tmp', 'killed-later')), 10_000, 25);
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });
});

/** Mounts a 2 MiB tmpfs; the reason when this machine does not allow it. */
function mountTmpfs(dir: string): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `cannot mount a tmpfs here (${String(err).split('\n')[0]}): the full-disk test needs root and mount permission`;
  }
}

const fullDir = await mkdtemp(join(tmpdir(), 'drover-cache-full-'));
const cannotMount = mountTmpfs(fullDir);

describe('a full cache file system (2 MiB tmpfs)', { skip: cannotMount ?? false }, () => {
  let t: TestServer;
  let push: string;
  before(async () => {
    ({ t, push } = await serverOn(fullDir));
  });
  after(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- t is still unset here when before() failed
    await t?.close();
    execFileSync('umount', [fullDir]);
    await rm(fullDir, { recursive: true, force: true });
  });

  const big = () => fakePath('big', randomBytes(3 * 1024 * 1024));
  const assertFull = (r: { status: number; json: { code?: string; message?: string } }) => {
    assert.equal(r.status, 507, JSON.stringify(r.json));
    assert.equal(r.json.code, 'DROVER_ERR_INSUFFICIENT_STORAGE');
    assert.match(r.json.message ?? '', /no space left/);
  };

  test('nix copy’s PUT nar/<file>: 507 naming the cause, nothing left behind', async () => {
    const p = big();
    assertFull(await putNar(t, 'main', p, push));
    assert.deepEqual(await leftovers(fullDir), []);
    assert.equal((await fetchCache(t, 'HEAD', `/cache/main/nar/${p.file}`, push)).status, 404);
  });

  test('drover push, one path or a batch: 507, nothing left behind', async () => {
    const p = big();
    const single = await api(t, 'PUT', '/api/v1/caches/main/paths', {
      headers: {
        ...bearer(push),
        'content-type': 'application/octet-stream',
        'x-drover-compression': 'none',
        'x-drover-path-info': Buffer.from(JSON.stringify(pathInfoOf(p))).toString('base64url'),
      },
      body: p.bytes,
    });
    assertFull(single);
    assert.deepEqual(await leftovers(fullDir), []);
    // In a batch, a small path that fitted is not published either (its NAR waits for GC like any unused upload).
    const small = fakePath('small-one');
    assertFull(await pushBatch(t, 'main', batchBody([{ path: small }, { path: p }]), push));
    assert.deepEqual(
      (await leftovers(fullDir)).filter((f) => f.startsWith('tmp/')),
      [],
    );
    for (const q of [small, p]) assert.equal((await fetchCache(t, 'GET', `/cache/main/${q.hash}.narinfo`, push)).status, 404);
  });

  test('once there is room again, uploads succeed', async () => {
    const p = fakePath('fits', randomBytes(100 * 1024));
    assert.equal((await putNar(t, 'main', p, push)).status, 204);
    assert.equal((await putNarinfo(t, 'main', p, push)).status, 204);
  });
});
