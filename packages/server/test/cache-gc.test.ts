/**
 * Cache GC marking and sweeping without Nix: a small graph of narinfos
 * (references between them), NAR files and pins is written through the
 * cache repositories into a real database — SQLite, and PostgreSQL when one
 * answers — and the tests assert what GC keeps, what it deletes, and the
 * reason it gives for each. Deployment roots are checked as the pure rule
 * they are (gc-mark.ts).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { NIX_BASE32_ALPHABET, parseStorePath, STORE_DIR, type GcReport, type StorePath } from '@drover/protocol';
import { generateSigningKey, storeHashOf } from '@drover/nix';
import { ensureDefaultWorkspace, findWorkspace } from '../src/workspaces/repository.js';
import { migrateToLatest, openDatabase, type OpenDatabase } from '../src/db/connect.js';
import { nowIso } from '../src/db/time.js';
import { insertCache, type CacheRow } from '../src/cache/caches-repository.js';
import { collectGarbage, sweepPaths, type GcContext } from '../src/cache/gc.js';
import { deploymentRoots, markLive, PathGraph } from '../src/cache/gc-mark.js';
import { findNar, gcPaths, insertNar, touchPaths, upsertPath } from '../src/cache/paths-repository.js';
import { insertPin } from '../src/cache/pins-repository.js';
import type { NarStorage } from '../src/cache/storage/storage.js';
import { dropSchema, findPostgres, randomSchema } from '@drover/test-support';
import { backendCases, storePath, type BackendName } from './support.js';

/** Older than any grace period. */
const OLD = '2020-01-01T00:00:00.000Z';
const NAR_SIZE = 1000;

function base32(length: number): string {
  let out = '';
  for (const b of randomBytes(length)) out += NIX_BASE32_ALPHABET.charAt(b % 32);
  return out;
}

const baseName = (path: StorePath) => path.slice(STORE_DIR.length + 1);

/** NAR storage that only records which keys GC deleted. */
class RecordingStorage implements NarStorage {
  readonly description = 'memory';
  readonly deleted: string[] = [];
  async write(): Promise<void> {}
  async read(): Promise<Readable | null> {
    return null;
  }
  async delete(keys: readonly string[]): Promise<void> {
    this.deleted.push(...keys);
  }
  async removeStaleUploads(): Promise<number> {
    return 0;
  }
  async close(): Promise<void> {}
}

/** A migrated database with the default workspace; null (and why) when the backend is not reachable. */
async function openTestDatabase(backend: BackendName): Promise<{ database: OpenDatabase; cleanup: () => Promise<void> } | string> {
  const dataDir = await mkdtemp(join(tmpdir(), 'drover-gc-test-'));
  let url: string | undefined;
  let schema: string | undefined;
  if (backend === 'postgres') {
    const target = await findPostgres();
    if (target.url === undefined) {
      await rm(dataDir, { recursive: true, force: true });
      return target.skip;
    }
    url = target.url;
    schema = randomSchema('drover_gc_');
  }
  const database = await openDatabase({ dataDir, databaseUrl: url, databaseSchema: schema });
  await migrateToLatest(database);
  await ensureDefaultWorkspace(database.db);
  return {
    database,
    cleanup: async () => {
      await database.close();
      if (url && schema) await dropSchema(url, schema);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** One database per test: GC of NAR files looks at every cache, so tests must not see each other's rows. */
class Fixture {
  readonly storage = new RecordingStorage();
  /** Store hashes GC said it deleted (what replicas are told to forget). */
  readonly forgotten: string[] = [];
  readonly gc: GcContext;
  private constructor(
    readonly database: OpenDatabase,
    readonly workspaceId: string,
    readonly cleanup: () => Promise<void>,
  ) {
    this.gc = {
      db: database.db,
      storage: this.storage,
      graceSeconds: 3600,
      keepDeployments: 3,
      pathsChanged: async (_cache, hashes) => void this.forgotten.push(...hashes),
    };
  }

  static async open(backend: BackendName): Promise<Fixture | string> {
    const opened = await openTestDatabase(backend);
    if (typeof opened === 'string') return opened;
    const ws = await findWorkspace(opened.database.db, 'default');
    return new Fixture(opened.database, ws.id, opened.cleanup);
  }

  get db() {
    return this.database.db;
  }

  async cache(name: string): Promise<CacheRow> {
    const key = generateSigningKey(`${name}-1`);
    const row: CacheRow = {
      id: `cache-${name}`,
      workspace_id: this.workspaceId,
      name,
      public: 0,
      secret_key: key.secret,
      public_key: key.publicKey,
      trusted_keys: '[]',
      created_at: OLD,
    };
    assert.ok(await insertCache(this.db, row));
    return row;
  }

  /** A NAR file row; its storage key is `nar/<file>`. */
  async nar(touchedAt = OLD): Promise<string> {
    const file = `${base32(52)}.nar.zst`;
    const inserted = await insertNar(this.db, {
      file,
      storage_key: `nar/${file}`,
      compression: 'zstd',
      file_size: NAR_SIZE,
      nar_hash: `sha256:${base32(52)}`,
      nar_size: NAR_SIZE,
      created_at: touchedAt,
      touched_at: touchedAt,
    });
    assert.ok(inserted);
    return file;
  }

  /** A narinfo of `cache` referencing `refs` (and itself, as Nix does), with its own NAR unless one is given. */
  async path(cache: CacheRow, name: string, refs: readonly StorePath[], opts: { touchedAt?: string; narFile?: string } = {}): Promise<StorePath> {
    const path = storePath(name);
    const touchedAt = opts.touchedAt ?? OLD;
    await upsertPath(this.db, {
      cache_id: cache.id,
      store_hash: storeHashOf(path),
      store_path: path,
      nar_file: opts.narFile ?? (await this.nar(touchedAt)),
      nar_size: NAR_SIZE,
      refs: [path, ...refs].map(baseName).sort().join(' '),
      narinfo: `StorePath: ${path}\n`,
      created_at: touchedAt,
      touched_at: touchedAt,
    });
    return path;
  }

  async storedPaths(cache: CacheRow): Promise<Set<string>> {
    return new Set((await gcPaths(this.db, cache.id)).map((r) => r.store_path));
  }
}

const reasons = (entries: GcReport['kept' | 'deleted']) => new Map(entries.map((e) => [e.storePath, e.reason]));

for (const { backend, skip: backendSkip } of await backendCases()) {
  describe(`cache GC over ${backend}`, { skip: backendSkip }, () => {
    let skip: string | undefined;
    before(async () => {
      const probe = await Fixture.open(backend);
      if (typeof probe === 'string') skip = probe;
      else await probe.cleanup();
    });
    const withFixture = (name: string, body: (f: Fixture) => Promise<void>): void => {
      test(name, async (t) => {
        if (skip) return t.skip(skip);
        const f = await Fixture.open(backend);
        if (typeof f === 'string') throw new Error(f);
        try {
          await body(f);
        } finally {
          await f.cleanup();
        }
      });
    };

    withFixture('keeps the closures of unexpired pins and of young paths, deletes the rest referrers first, and says why', async (f) => {
      const cache = await f.cache('main');
      const libc = await f.path(cache, 'libc', []);
      const lib = await f.path(cache, 'lib', [libc]);
      const app = await f.path(cache, 'app', [lib]);
      const ydep = await f.path(cache, 'young-dep', []);
      const young = await f.path(cache, 'young', [ydep], { touchedAt: nowIso() });
      const expired = await f.path(cache, 'expired', []);
      const dead2 = await f.path(cache, 'dead-bottom', [libc]);
      const dead1 = await f.path(cache, 'dead-top', [dead2]);
      const stray = await f.path(cache, 'stray', []);
      await insertPin(f.db, { cacheId: cache.id, storePath: app, reason: 'pinned', expiresAt: null });
      await insertPin(f.db, { cacheId: cache.id, storePath: expired, reason: 'pinned until 2021', expiresAt: '2021-01-01T00:00:00.000Z' });
      // Same hash as `stray`, another name: a root only counts for the very store path the cache holds.
      const impostor = parseStorePath(`${STORE_DIR}/${storeHashOf(stray)}-other-name`);
      await insertPin(f.db, { cacheId: cache.id, storePath: impostor, reason: 'pinned impostor', expiresAt: null });

      const report = await collectGarbage(f.gc, cache, { dryRun: false });

      const kept = reasons(report.kept);
      assert.match(kept.get(young) ?? '', /^younger than the grace period \(pushed or used at /);
      kept.delete(young);
      assert.deepEqual(
        kept,
        new Map([
          [libc, `in the closure of ${lib}`],
          [lib, `in the closure of ${app}`],
          [app, 'pinned'],
          [ydep, `in the closure of ${young}`],
        ]),
      );
      assert.deepEqual(new Set(report.deleted.map((d) => d.storePath)), new Set([expired, dead1, dead2, stray]));
      for (const d of report.deleted) assert.equal(d.reason, 'not reachable from any pin');
      const order = report.deleted.map((d) => d.storePath);
      assert.ok(order.indexOf(dead1) < order.indexOf(dead2), `a referrer goes before its reference: ${order.join(', ')}`);
      assert.deepEqual(report.pins.map((p) => p.storePath).sort(), [app, impostor].sort(), 'expired pins are not roots');
      assert.deepEqual(await f.storedPaths(cache), new Set([libc, lib, app, ydep, young]));
      assert.equal(report.narsDeleted, 4);
      assert.equal(report.bytesFreed, 4 * NAR_SIZE);
      assert.equal(f.storage.deleted.length, 4);
      assert.deepEqual(
        new Set(f.forgotten),
        new Set([expired, dead1, dead2, stray].map((p) => p.slice(11, 43))),
        'replicas are told to forget exactly the deleted narinfos',
      );
    });

    withFixture("a NAR goes only once no cache's narinfo refers to it and it is older than the grace period", async (f) => {
      const main = await f.cache('main');
      const other = await f.cache('other');
      const shared = await f.nar();
      await f.path(main, 'shared-here', [], { narFile: shared });
      const keptElsewhere = await f.path(other, 'shared-there', [], { narFile: shared });
      await insertPin(f.db, { cacheId: other.id, storePath: keptElsewhere, reason: 'pinned', expiresAt: null });
      const ownNarPath = await f.path(main, 'own-nar', []);
      const ownNar = (await gcPaths(f.db, main.id)).find((r) => r.store_path === ownNarPath)!.nar_file;
      const oldOrphan = await f.nar(); // an upload whose narinfo never came
      const youngOrphan = await f.nar(nowIso());

      const dry = await collectGarbage(f.gc, main, { dryRun: true });
      assert.equal(dry.deleted.length, 2);
      assert.equal(dry.narsDeleted, 2, 'the own NAR and the old orphan would go; the shared one stays');
      assert.equal((await f.storedPaths(main)).size, 2, 'a dry run deletes nothing');
      assert.deepEqual(f.storage.deleted, []);
      assert.deepEqual(f.forgotten, [], 'a dry run makes no replica forget anything');

      const report = await collectGarbage(f.gc, main, { dryRun: false });
      assert.deepEqual(
        report.deleted.map((d) => d.storePath),
        dry.deleted.map((d) => d.storePath),
      );
      assert.equal(report.narsDeleted, 2);
      assert.deepEqual(f.storage.deleted.sort(), [`nar/${ownNar}`, `nar/${oldOrphan}`].sort());
      assert.ok(await findNar(f.db, shared), 'still referred to by the other cache');
      assert.ok(await findNar(f.db, youngOrphan), 'younger than the grace period');
      assert.equal(await findNar(f.db, ownNar), null);
      assert.equal(await findNar(f.db, oldOrphan), null);
    });

    withFixture('a path an upload touches between marking and deleting survives with its closure; its referrers still go', async (f) => {
      const cache = await f.cache('main');
      const bottom = await f.path(cache, 'bottom', []);
      const mid = await f.path(cache, 'mid', [bottom]);
      const top = await f.path(cache, 'top', [mid]);
      const cutoff = new Date(Date.now() - 3600_000).toISOString();
      const graph = new PathGraph(await gcPaths(f.db, cache.id));
      const live = markLive(graph, [], cutoff);
      assert.equal(live.size, 0);

      await touchPaths(f.db, cache.id, [storeHashOf(mid)], nowIso()); // a push relying on `mid`

      const sweep = await sweepPaths(f.gc, cache, graph, live, cutoff, false);
      assert.deepEqual(
        sweep.deleted.map((d) => d.storePath),
        [top],
      );
      assert.deepEqual(new Set(sweep.survivors), new Set([storeHashOf(mid), storeHashOf(bottom)]));
      assert.deepEqual(await f.storedPaths(cache), new Set([mid, bottom]));
    });

    withFixture('a grace period of 0 deletes even just-pushed paths no root reaches', async (f) => {
      const cache = await f.cache('main');
      const fresh = await f.path(cache, 'fresh', [], { touchedAt: nowIso() });
      assert.equal((await collectGarbage(f.gc, cache, { dryRun: true })).deleted.length, 0);
      await new Promise((r) => setTimeout(r, 5));
      const report = await collectGarbage(f.gc, cache, { dryRun: false, graceSeconds: 0 });
      assert.deepEqual(
        report.deleted.map((d) => d.storePath),
        [fresh],
      );
    });
  });
}

describe('deployment roots', () => {
  const p = (name: string) => storePath(name);
  const current = p('current');
  const [s5, s4, s3, s2, running, rollback, pending] = ['s5', 's4', 's3', 's2', 'running', 'rollback', 'pending'].map(p);

  test("an agent's current path, its pending and running deployments with their rollbackScript, and its last N successful ones", () => {
    const roots = deploymentRoots(
      [{ agent: 'a', storePath: current }],
      [
        { agent: 'a', index: 6, status: 'InProgress', storePath: running!, rollbackScript: rollback! },
        { agent: 'a', index: 5, status: 'Succeeded', storePath: s5!, rollbackScript: null },
        { agent: 'a', index: 4, status: 'Succeeded', storePath: s4!, rollbackScript: null },
        { agent: 'a', index: 3, status: 'Succeeded', storePath: s3!, rollbackScript: null },
        { agent: 'a', index: 2, status: 'Succeeded', storePath: s2!, rollbackScript: null },
        { agent: 'b', index: 1, status: 'Pending', storePath: pending!, rollbackScript: null },
      ],
      3,
    );
    assert.deepEqual(
      roots.map((r) => [r.storePath, r.reason]),
      [
        [current, 'deployed on agent a'],
        [running, 'InProgress deployment #6 of agent a'],
        [rollback, 'rollbackScript of InProgress deployment #6 of agent a'],
        [s5, 'deployment #5 of agent a (one of its last 3 successful)'],
        [s4, 'deployment #4 of agent a (one of its last 3 successful)'],
        [s3, 'deployment #3 of agent a (one of its last 3 successful)'],
        [pending, 'Pending deployment #1 of agent b'],
      ],
    );
    assert.ok(roots.every((r) => r.expiresAt === null));
  });

  test('keep counts per agent', () => {
    const roots = deploymentRoots(
      [],
      [
        { agent: 'a', index: 2, status: 'Succeeded', storePath: s5!, rollbackScript: null },
        { agent: 'a', index: 1, status: 'Succeeded', storePath: s4!, rollbackScript: null },
        { agent: 'b', index: 1, status: 'Succeeded', storePath: s3!, rollbackScript: null },
      ],
      1,
    );
    assert.deepEqual(
      roots.map((r) => r.storePath),
      [s5, s3],
    );
  });
});
