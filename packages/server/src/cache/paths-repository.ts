/**
 * The `cache_paths` (each cache's signed narinfos), `cache_nars` (NAR files
 * shared by every cache) and `cache_nar_uploads` (which cache was sent which
 * NAR) tables, as stored: what reads, uploads and GC ask of them. `touched_at` is what keeps GC off rows an upload relies on:
 * deletes here only remove rows untouched since a cutoff.
 */
import { sql, type Kysely } from 'kysely';
import type { StorePath } from '@drover/protocol';
import { storeHashOf } from '@drover/nix';
import { chunks } from '../db/chunks.js';
import type { Database } from '../db/schema.js';
import type { CacheNarsTable, CachePathsTable } from './tables.js';

export type NarRow = CacheNarsTable;
export type PathRow = CachePathsTable;
/** What GC reads of a narinfo. */
export type GcPathRow = Pick<PathRow, 'store_hash' | 'store_path' | 'refs' | 'nar_file' | 'nar_size' | 'touched_at'>;

export interface PathStats {
  readonly paths: number;
  readonly narBytes: number;
}

// ── narinfos ─────────────────────────────────────────────────────────────────

export async function narinfoText(db: Kysely<Database>, cacheId: string, storeHash: string): Promise<string | null> {
  const row = await db.selectFrom('cache_paths').select('narinfo').where('cache_id', '=', cacheId).where('store_hash', '=', storeHash).executeTakeFirst();
  return row?.narinfo ?? null;
}

/** Which of `paths` the cache holds (one query per 500). */
export async function presentPaths(db: Kysely<Database>, cacheId: string, paths: readonly StorePath[]): Promise<Set<string>> {
  const present = new Set<string>();
  for (const chunk of chunks([...new Set(paths)])) {
    const rows = await db
      .selectFrom('cache_paths')
      .select('store_path')
      .where('cache_id', '=', cacheId)
      .where('store_hash', 'in', chunk.map(storeHashOf))
      .execute();
    for (const r of rows) present.add(r.store_path);
  }
  return present;
}

/** The cache's narinfos of these store hashes as a closure walk reads them (one query per 500). */
export async function closureRows(
  db: Kysely<Database>,
  cacheId: string,
  storeHashes: readonly string[],
): Promise<Pick<PathRow, 'store_hash' | 'store_path' | 'nar_size' | 'refs'>[]> {
  const out: Pick<PathRow, 'store_hash' | 'store_path' | 'nar_size' | 'refs'>[] = [];
  for (const chunk of chunks(storeHashes)) {
    out.push(
      ...(await db
        .selectFrom('cache_paths')
        .select(['store_hash', 'store_path', 'nar_size', 'refs'])
        .where('cache_id', '=', cacheId)
        .where('store_hash', 'in', chunk)
        .execute()),
    );
  }
  return out;
}

/** Bumps `touched_at` of the cache's paths with these hashes; returns the store paths found. */
export async function touchPaths(db: Kysely<Database>, cacheId: string, storeHashes: readonly string[], now: string): Promise<string[]> {
  const found: string[] = [];
  for (const chunk of chunks(storeHashes)) {
    const rows = await db
      .updateTable('cache_paths')
      .set({ touched_at: now })
      .where('cache_id', '=', cacheId)
      .where('store_hash', 'in', chunk)
      .returning('store_path')
      .execute();
    for (const r of rows) found.push(r.store_path);
  }
  return found;
}

/** Stores a narinfo; the first upload of a path wins, a repeated one only keeps it young. */
export async function upsertPath(db: Kysely<Database>, row: PathRow): Promise<void> {
  await db
    .insertInto('cache_paths')
    .values(row)
    .onConflict((oc) => oc.columns(['cache_id', 'store_hash']).doUpdateSet({ touched_at: row.touched_at }))
    .execute();
}

/** Stores a narinfo unless the cache has one for the path; false when it had. */
export async function insertPath(db: Kysely<Database>, row: PathRow): Promise<boolean> {
  const inserted = await db
    .insertInto('cache_paths')
    .values(row)
    .onConflict((oc) => oc.columns(['cache_id', 'store_hash']).doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Replaces the cache's narinfo of the path with `row` (every column but created_at). */
export async function replacePath(db: Kysely<Database>, row: PathRow): Promise<void> {
  await db
    .updateTable('cache_paths')
    .set({ store_path: row.store_path, nar_file: row.nar_file, nar_size: row.nar_size, refs: row.refs, narinfo: row.narinfo, touched_at: row.touched_at })
    .where('cache_id', '=', row.cache_id)
    .where('store_hash', '=', row.store_hash)
    .execute();
}

/** Paths held and NAR bytes referred to, per cache (caches without paths are absent). */
export async function pathStats(db: Kysely<Database>, cacheIds: readonly string[]): Promise<Map<string, PathStats>> {
  const out = new Map<string, PathStats>();
  for (const chunk of chunks(cacheIds)) {
    // count(*) is a bigint, parsed as a number (db/connect.ts); sum() of a bigint is a PostgreSQL numeric, which pg hands back as a string.
    const rows = await db
      .selectFrom('cache_paths')
      .select((eb) => ['cache_id', eb.fn.countAll<number>().as('paths'), eb.fn.sum<number | string>('nar_size').as('bytes')])
      .where('cache_id', 'in', chunk)
      .groupBy('cache_id')
      .execute();
    for (const r of rows) out.set(r.cache_id, { paths: r.paths, narBytes: Number(r.bytes) });
  }
  return out;
}

// ── NAR files ────────────────────────────────────────────────────────────────

/** Records a NAR file; false when one with that name exists already. */
export async function insertNar(db: Kysely<Database>, row: NarRow): Promise<boolean> {
  const inserted = await db
    .insertInto('cache_nars')
    .values(row)
    .onConflict((oc) => oc.column('file').doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Bumps the NAR's `touched_at`; false when it is gone (collected). */
export async function touchNar(db: Kysely<Database>, file: string, now: string): Promise<boolean> {
  const touched = await db.updateTable('cache_nars').set({ touched_at: now }).where('file', '=', file).executeTakeFirst();
  return Number(touched.numUpdatedRows) > 0;
}

export async function findNar(db: Kysely<Database>, file: string): Promise<NarRow | null> {
  return (await db.selectFrom('cache_nars').selectAll().where('file', '=', file).executeTakeFirst()) ?? null;
}

/** Records that the cache was sent the NAR's bytes (the NAR row exists). */
export async function recordNarUpload(db: Kysely<Database>, cacheId: string, file: string, now: string): Promise<void> {
  await db
    .insertInto('cache_nar_uploads')
    .values({ cache_id: cacheId, file, created_at: now })
    .onConflict((oc) => oc.columns(['cache_id', 'file']).doNothing())
    .execute();
}

/** The NAR, if this cache may use it: a narinfo of the cache refers to it, or the cache was sent its bytes. Another cache's NAR is null, as a missing one. */
export async function narForCache(db: Kysely<Database>, cacheId: string, file: string): Promise<NarRow | null> {
  const row = await db
    .selectFrom('cache_nars')
    .selectAll()
    .where('file', '=', file)
    .where(({ or, exists, selectFrom }) =>
      or([
        exists(
          selectFrom('cache_paths')
            .select(sql<number>`1`.as('one'))
            .where('cache_paths.cache_id', '=', cacheId)
            .whereRef('cache_paths.nar_file', '=', 'cache_nars.file'),
        ),
        exists(
          selectFrom('cache_nar_uploads')
            .select(sql<number>`1`.as('one'))
            .where('cache_nar_uploads.cache_id', '=', cacheId)
            .whereRef('cache_nar_uploads.file', '=', 'cache_nars.file'),
        ),
      ]),
    )
    .executeTakeFirst();
  return row ?? null;
}

/** Where a NAR's bytes are, if a narinfo of this cache refers to it. */
export async function narOfCache(db: Kysely<Database>, cacheId: string, file: string): Promise<{ storageKey: string; fileSize: number } | null> {
  const row = await db
    .selectFrom('cache_nars')
    .innerJoin('cache_paths', 'cache_paths.nar_file', 'cache_nars.file')
    .select(['cache_nars.storage_key', 'cache_nars.file_size'])
    .where('cache_paths.cache_id', '=', cacheId)
    .where('cache_nars.file', '=', file)
    .limit(1)
    .executeTakeFirst();
  return row ? { storageKey: row.storage_key, fileSize: row.file_size } : null;
}

// ── garbage collection ───────────────────────────────────────────────────────

export async function gcPaths(db: Kysely<Database>, cacheId: string): Promise<GcPathRow[]> {
  return db
    .selectFrom('cache_paths')
    .select(['store_hash', 'store_path', 'refs', 'nar_file', 'nar_size', 'touched_at'])
    .where('cache_id', '=', cacheId)
    .execute();
}

/** Deletes a narinfo unless an upload touched it since `cutoff`; false when it stays. */
export async function deleteUntouchedPath(db: Kysely<Database>, cacheId: string, storeHash: string, cutoff: string): Promise<boolean> {
  const res = await db
    .deleteFrom('cache_paths')
    .where('cache_id', '=', cacheId)
    .where('store_hash', '=', storeHash)
    .where('touched_at', '<', cutoff)
    .executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** Of these NAR files, those a narinfo of another cache than `cacheId` refers to. */
export async function narsUsedElsewhere(db: Kysely<Database>, cacheId: string, files: readonly string[]): Promise<Set<string>> {
  const used = new Set<string>();
  for (const chunk of chunks(files)) {
    const rows = await db.selectFrom('cache_paths').select('nar_file').where('cache_id', '!=', cacheId).where('nar_file', 'in', chunk).execute();
    for (const r of rows) used.add(r.nar_file);
  }
  return used;
}

/** NAR files untouched since `cutoff` that no narinfo of any cache refers to (including uploads whose narinfo never came). */
export async function orphanNars(db: Kysely<Database>, cutoff: string): Promise<{ file: string; fileSize: number }[]> {
  const rows = await db
    .selectFrom('cache_nars')
    .select(['file', 'file_size'])
    .where('touched_at', '<', cutoff)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('cache_paths')
            .select(sql<number>`1`.as('one'))
            .whereRef('cache_paths.nar_file', '=', 'cache_nars.file'),
        ),
      ),
    )
    .execute();
  return rows.map((r) => ({ file: r.file, fileSize: r.file_size }));
}

/** Deletes an orphan NAR row if it still is one (untouched, unreferenced); returns where its bytes were. */
export async function deleteOrphanNar(db: Kysely<Database>, file: string, cutoff: string): Promise<{ storageKey: string; fileSize: number } | null> {
  const gone = await db
    .deleteFrom('cache_nars')
    .where('file', '=', file)
    .where('touched_at', '<', cutoff)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('cache_paths')
            .select(sql<number>`1`.as('one'))
            .where('nar_file', '=', file),
        ),
      ),
    )
    .returning(['storage_key', 'file_size'])
    .executeTakeFirst();
  return gone ? { storageKey: gone.storage_key, fileSize: gone.file_size } : null;
}
