/**
 * Workspaces: the unit of isolation. Agents, tokens and deployments belong to
 * exactly one; a token of one workspace sees nothing of another. The
 * `default` workspace is created on first start.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { DroverError, parseWorkspaceName, type CacheConfig, type Workspace } from '@drover/protocol';
import type { Database, WorkspaceRow } from '../db/schema.js';
import { nowIso } from '../db/time.js';
import { roleIn, type UserRoles } from '../auth/users.js';

export const DEFAULT_WORKSPACE = 'default';

export function workspaceJson(row: WorkspaceRow): Workspace {
  return { name: row.name, createdAt: row.created_at, cache: cacheOf(row) };
}

export function cacheOf(row: WorkspaceRow): CacheConfig | null {
  return row.cache_substituter && row.cache_public_key
    ? { substituter: row.cache_substituter, publicKey: row.cache_public_key }
    : null;
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
  const inserted = await db.insertInto('workspaces').values(row).onConflict((oc) => oc.column('name').doNothing()).executeTakeFirst();
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

/** Workspaces a user can see — all of them for a global role — with the user's role in each. */
export async function visibleWorkspaces(db: Kysely<Database>, roles: UserRoles): Promise<Workspace[]> {
  const out: Workspace[] = [];
  for (const row of await listWorkspaces(db)) {
    const role = roleIn(roles, row.id);
    if (role) out.push({ ...workspaceJson(row), role });
  }
  return out;
}

export async function renameWorkspace(db: Kysely<Database>, id: string, name: string): Promise<WorkspaceRow> {
  const valid = parseWorkspaceName(name);
  const taken = await db.selectFrom('workspaces').select('id').where('name', '=', valid).executeTakeFirst();
  if (taken && taken.id !== id) throw new DroverError('DROVER_ERR_WORKSPACE_EXISTS', `workspace ${JSON.stringify(valid)} already exists`);
  await db.updateTable('workspaces').set({ name: valid }).where('id', '=', id).execute();
  return getWorkspaceById(db, id);
}

/**
 * Deletes a workspace and, by cascade, its agents, tokens, deployments and
 * logs, and the role grants naming it. Returns the ids of its tokens, whose
 * connections must now close.
 */
export async function deleteWorkspace(db: Kysely<Database>, id: string): Promise<string[]> {
  return db.transaction().execute(async (tx) => {
    const tokens = await tx.selectFrom('tokens').select('id').where('workspace_id', '=', id).execute();
    await tx.deleteFrom('role_grants').where('workspace_id', '=', id).execute();
    const r = await tx.deleteFrom('workspaces').where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new DroverError('DROVER_ERR_WORKSPACE_NOT_FOUND', `workspace ${id} does not exist`);
    return tokens.map((t) => t.id);
  });
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
    throw new DroverError('DROVER_ERR_VALIDATION', `public key must look like NAME:BASE64 (an ed25519 key as in nix.conf trusted-public-keys), got ${JSON.stringify(publicKey)}`);
  }
  await db
    .updateTable('workspaces')
    .set({ cache_substituter: substituter, cache_public_key: publicKey })
    .where('id', '=', workspaceId)
    .execute();
  return getWorkspaceById(db, workspaceId);
}
