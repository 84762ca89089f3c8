/**
 * A full server disk under the database: a request that has to write answers
 * 507 DROVER_ERR_INSUFFICIENT_STORAGE naming the cause (not a generic 500),
 * and the server keeps answering reads. Runs on a small tmpfs it mounts itself
 * (root only; skipped with one line otherwise). The classifier is tested too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDiskFull } from '../src/db/connect.js';
import { api, startTestServer, type TestServer } from './support.js';

function withCode(code: string): Error {
  return Object.assign(new Error(code), { code });
}

describe('a full disk', () => {
  test('SQLITE_FULL, disk_full (53100), ENOSPC and EDQUOT mean a full disk; other errors do not', () => {
    for (const code of ['SQLITE_FULL', '53100', 'ENOSPC', 'EDQUOT']) assert.equal(isDiskFull(withCode(code)), true, code);
    for (const code of ['SQLITE_BUSY', '22021', 'ECONNRESET']) assert.equal(isDiskFull(withCode(code)), false, code);
    assert.equal(isDiskFull('ENOSPC'), false);
  });
});

const mountable = process.getuid?.() === 0;

describe('the SQLite database on a full tmpfs', { skip: mountable ? false : 'mounting a tmpfs needs root: skipping the full-disk case' }, () => {
  let dir = '';
  let t: TestServer | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'drover-disk-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
    t = await startTestServer('sqlite', { server: { dataDir: dir } });
  });
  after(async () => {
    await t?.close();
    execFileSync('umount', [dir]);
    await rm(dir, { recursive: true, force: true });
  });

  test('a write answers 507 naming the full disk, and reads still answer', async () => {
    if (!t) throw new Error('no server');
    const admin = await t.mint('admin');
    // Fill what is left of the file system.
    for (let i = 0; ; i++) {
      try {
        await writeFile(join(dir, `filler-${i}`), Buffer.alloc(256 * 1024));
      } catch {
        break;
      }
    }
    const body = { kind: 'activate', description: 'x'.repeat(200) };
    let res = await api(t, 'POST', '/api/v1/tokens', { token: admin.token, body });
    // SQLite may still fit a few rows in pages it already has; a handful of writes exhausts them.
    for (let i = 0; i < 200 && res.status === 201; i++) res = await api(t, 'POST', '/api/v1/tokens', { token: admin.token, body });
    assert.equal(res.status, 507, res.text);
    assert.equal(res.json.code, 'DROVER_ERR_INSUFFICIENT_STORAGE');
    assert.match(res.json.message, /disk is full/);
    assert.equal((await api(t, 'GET', '/api/v1/tokens', { token: admin.token })).status, 200);
  });
});
