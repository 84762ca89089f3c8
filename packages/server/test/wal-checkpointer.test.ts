/**
 * The background WAL checkpoint (db/wal-checkpointer.ts): a commit leaves
 * its pages in the write-ahead log, and the worker thread copies them into
 * the database file soon after; a thread that cannot start is reported and
 * the connection checkpoints itself again, as SQLite does by default.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { startWalCheckpointer } from '../src/db/wal-checkpointer.js';

/** Writes about 2,000 pages (8 MB) in one transaction. */
function writePages(sqlite: SQLite.Database): void {
  sqlite.exec('create table t (v blob)');
  const insert = sqlite.prepare('insert into t (v) values (randomblob(4000))');
  sqlite.transaction(() => {
    for (let i = 0; i < 2000; i++) insert.run();
  })();
}

async function waitFor(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A database file in WAL mode in a new directory, and how to remove both. */
function walDatabase(): { dir: string; file: string; sqlite: SQLite.Database; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'drover-wal-'));
  const file = join(dir, 'db.sqlite');
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  return {
    dir,
    file,
    sqlite,
    remove: () => {
      sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('background WAL checkpoint', () => {
  test('the commit leaves its pages in the log; the thread copies them into the database file', async () => {
    const { file, sqlite, remove } = walDatabase();
    const failures: string[] = [];
    const checkpointer = startWalCheckpointer(sqlite, file, (m) => failures.push(m), 50);
    try {
      writePages(sqlite);
      // SQLite's default threshold (1,000 pages) would have checkpointed inside this commit.
      assert.ok(statSync(file).size < 1_000_000, `the commit itself copied nothing (${statSync(file).size} bytes in the database file)`);
      await waitFor('the database file to hold the pages', () => statSync(file).size > 7_000_000);
      assert.deepEqual(failures, []);
    } finally {
      await checkpointer.close();
      remove();
    }
  });

  test('a thread that cannot open the file is reported, and commits checkpoint themselves again', async () => {
    const { dir, sqlite, remove } = walDatabase();
    const failures: string[] = [];
    const checkpointer = startWalCheckpointer(sqlite, join(dir, 'missing.sqlite'), (m) => failures.push(m), 50);
    try {
      await waitFor('the failure to be reported', () => failures.length > 0);
      assert.match(failures[0] ?? '', /the checkpoint thread stopped .*commits checkpoint the log themselves/);
      assert.equal(sqlite.pragma('wal_autocheckpoint', { simple: true }), 1000);
      await checkpointer.close(); // the thread is gone: close still resolves
    } finally {
      remove();
    }
  });
});
