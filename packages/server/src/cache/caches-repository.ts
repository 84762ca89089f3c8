/**
 * The `caches` table (one row per built-in cache, with its signing key), as
 * stored — plus `toCacheApi`, the mapping from a cache row to the API's
 * `CacheInfo`. A push/pull token's binding to one cache (`token_caches`) is
 * part of the token and belongs to the tokens repository (auth/tokens.ts).
 */
import type { Kysely } from 'kysely';
import { CACHE_PATH_PREFIX, DroverError, type CacheInfo } from '@drover/protocol';
import type { Database } from '../db/schema.js';
import type { CachesTable } from './tables.js';

export type CacheRow = CachesTable;

/** A cache row with what its API shape needs besides: its workspace's name and what it holds. */
export interface CacheView extends CacheRow {
  readonly workspace_name: string;
  readonly paths: number;
  readonly nar_bytes: number;
}

export function toCacheApi(row: CacheView, publicUrl: string): CacheInfo {
  return {
    name: row.name,
    workspace: row.workspace_name,
    public: row.public === 1,
    publicKey: row.public_key,
    substituter: `${publicUrl.replace(/\/$/, '')}${CACHE_PATH_PREFIX}/${row.name}`,
    createdAt: row.created_at,
    paths: row.paths,
    narBytes: row.nar_bytes,
  };
}

/** The public keys whose signatures on uploads the cache keeps (a JSON array in the row). */
export function trustedKeysOf(row: CacheRow): string[] {
  const keys: unknown = JSON.parse(row.trusted_keys);
  return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
}

/** Stores a new cache; false when the name is taken (names are unique on the server). */
export async function insertCache(db: Kysely<Database>, row: CacheRow): Promise<boolean> {
  const inserted = await db
    .insertInto('caches')
    .values(row)
    .onConflict((oc) => oc.column('name').doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** The cache called `name`; with `workspaceId`, only if it belongs to that workspace. */
export async function findCache(db: Kysely<Database>, name: string, workspaceId?: string): Promise<CacheRow> {
  const row = await db.selectFrom('caches').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row || (workspaceId !== undefined && row.workspace_id !== workspaceId)) {
    throw new DroverError('DROVER_ERR_CACHE_NOT_FOUND', `no binary cache ${JSON.stringify(name)}${workspaceId ? ' in this workspace' : ''}`);
  }
  return row;
}

/** A workspace's caches, oldest first (agents use the oldest). */
export async function listCaches(db: Kysely<Database>, workspaceId: string): Promise<CacheRow[]> {
  return db.selectFrom('caches').selectAll().where('workspace_id', '=', workspaceId).orderBy('created_at').execute();
}

/** Every cache on the server (periodic GC). */
export async function allCaches(db: Kysely<Database>): Promise<CacheRow[]> {
  return db.selectFrom('caches').selectAll().execute();
}

/** The oldest cache of each of these workspaces: the built-in cache their agents use when no external one is set. */
export async function oldestCaches(db: Kysely<Database>, workspaceIds: readonly string[]): Promise<Map<string, CacheRow>> {
  const out = new Map<string, CacheRow>();
  if (workspaceIds.length === 0) return out;
  const rows = await db
    .selectFrom('caches')
    .selectAll()
    .where('workspace_id', 'in', [...new Set(workspaceIds)])
    .orderBy('created_at', 'desc')
    .execute();
  // Newest first, so the oldest cache of each workspace is set last and wins.
  for (const r of rows) out.set(r.workspace_id, r);
  return out;
}
