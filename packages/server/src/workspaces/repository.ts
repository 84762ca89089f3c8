/**
 * The `workspaces` table: the unit of isolation. Agents, tokens and
 * deployments belong to exactly one; a token of one workspace sees nothing of
 * another. The `default` workspace is created on first start. Rules that span
 * other tables (what a user sees, deleting with its tokens and grants) are in
 * service.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { DroverError, parseWorkspaceName, type CacheConfig, type Role, type Workspace } from '@drover/protocol';
import type { Database, WorkspaceRow } from '../db/schema.js';
import { nowIso } from '../db/time.js';

export const DEFAULT_WORKSPACE = 'default';

/** A workspace as the API shows it; `role` is the caller's, when it has one. */
export function toWorkspaceApi(row: WorkspaceRow, role?: Role): Workspace {
  return { name: row.name, createdAt: row.created_at, cache: externalCacheOf(row), ...(role ? { role } : {}) };
}

/** The external binary cache set on the workspace, if any (see cache/agents.ts for what agents use). */
export function externalCacheOf(row: Pick<WorkspaceRow, 'cache_substituter' | 'cache_public_key'>): CacheConfig | null {
  return row.cache_substituter && row.cache_public_key ? { substituter: row.cache_substituter, publicKey: row.cache_public_key } : null;
}

export async function findWorkspace(db: Kysely<Database>, name: string): Promise<WorkspaceRow> {
  const row = await db.selectFrom('workspaces').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row) throw new DroverError('DROVER_ERR_WORKSPACE_NOT_FOUND', `workspace ${JSON.stringify(name)} does not exist`);
  return row;
}

export async function getWorkspaceById(db: Kysely<Database>, id: string): Promise<WorkspaceRow> {
  const row = await db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new DroverError('DROVER_ERR_WORKSPACE_NOT_FOUND', `workspace ${id} does not exist`);
  return row;
}

export async function listWorkspaces(db: Kysely<Database>): Promise<WorkspaceRow[]> {
  return db.selectFrom('workspaces').selectAll().orderBy('name').execute();
}

export async function createWorkspace(db: Kysely<Database>, name: string): Promise<WorkspaceRow> {
  const valid = parseWorkspaceName(name);
  const row: WorkspaceRow = { id: randomUUID(), name: valid, created_at: nowIso(), cache_substituter: null, cache_public_key: null };
  const inserted = await db
    .insertInto('workspaces')
    .values(row)
    .onConflict((oc) => oc.column('name').doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
    throw new DroverError('DROVER_ERR_WORKSPACE_EXISTS', `workspace ${JSON.stringify(name)} already exists`);
  }
  return row;
}

/**
 * Creates the `default` workspace on a server that has none, so one command
 * starts a usable server; safe to race with other replicas. Once any
 * workspace exists (even after `default` was renamed) nothing is created.
 */
export async function ensureDefaultWorkspace(db: Kysely<Database>): Promise<void> {
  if (await db.selectFrom('workspaces').select('id').limit(1).executeTakeFirst()) return;
  await db
    .insertInto('workspaces')
    .values({ id: randomUUID(), name: DEFAULT_WORKSPACE, created_at: nowIso(), cache_substituter: null, cache_public_key: null })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

export async function renameWorkspace(db: Kysely<Database>, id: string, name: string): Promise<WorkspaceRow> {
  const valid = parseWorkspaceName(name);
  const taken = await db.selectFrom('workspaces').select('id').where('name', '=', valid).executeTakeFirst();
  if (taken && taken.id !== id) throw new DroverError('DROVER_ERR_WORKSPACE_EXISTS', `workspace ${JSON.stringify(valid)} already exists`);
  await db.updateTable('workspaces').set({ name: valid }).where('id', '=', id).execute();
  return getWorkspaceById(db, id);
}

/** Deletes the workspace row; agents, tokens, deployments and logs go by cascade (see service.ts). */
export async function deleteWorkspaceRow(db: Kysely<Database>, id: string): Promise<void> {
  const r = await db.deleteFrom('workspaces').where('id', '=', id).executeTakeFirst();
  if (Number(r.numDeletedRows) === 0) throw new DroverError('DROVER_ERR_WORKSPACE_NOT_FOUND', `workspace ${id} does not exist`);
}

const publicKeyRe = /^[A-Za-z0-9._-]+:[A-Za-z0-9+/]{43}=$/;

/** Sets (or with both null, clears) the binary cache agents of this workspace substitute from. */
export async function setWorkspaceCache(
  db: Kysely<Database>,
  workspaceId: string,
  cache: { substituter: string | null; publicKey: string | null },
): Promise<WorkspaceRow> {
  const { substituter, publicKey } = cache;
  if ((substituter === null) !== (publicKey === null)) {
    throw new DroverError('DROVER_ERR_VALIDATION', 'set both the substituter URL and its public key, or neither');
  }
  if (substituter !== null) {
    let url: URL;
    try {
      url = new URL(substituter);
    } catch {
      throw new DroverError('DROVER_ERR_VALIDATION', `substituter ${JSON.stringify(substituter)} is not a URL`);
    }
    if (!['http:', 'https:', 'file:', 's3:'].includes(url.protocol)) {
      throw new DroverError('DROVER_ERR_VALIDATION', `substituter must be an http(s), s3 or file URL (got ${url.protocol})`);
    }
  }
  if (publicKey !== null && !publicKeyRe.test(publicKey)) {
    throw new DroverError(
      'DROVER_ERR_VALIDATION',
      `public key must look like NAME:BASE64 (an ed25519 key as in nix.conf trusted-public-keys), got ${JSON.stringify(publicKey)}`,
    );
  }
  await db.updateTable('workspaces').set({ cache_substituter: substituter, cache_public_key: publicKey }).where('id', '=', workspaceId).execute();
  return getWorkspaceById(db, workspaceId);
}

/** Several workspaces by id (the hub asks for the caches of the workspaces it delivers to). */
export async function getWorkspacesByIds(db: Kysely<Database>, ids: readonly string[]): Promise<WorkspaceRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('workspaces').selectAll().where('id', 'in', ids).execute();
}
