/**
 * Local user accounts and their role grants.
 *
 * A grant gives a role in one workspace or (workspace '') in all of them; a
 * user's role in a workspace is the stronger of the two. Users are managed on
 * the server's machine with `drover user …`, like the database itself.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { DroverError, parseUserName, strongerRole, type Role, type User } from '@drover/protocol';
import type { Database, UserRow } from '../db/schema.js';
import { nowIso } from '../db/time.js';
import { findWorkspace } from '../workspaces/repository.js';
import { generatePassword, hashPassword } from './passwords.js';
import { deleteSessionsOf } from './sessions.js';

/** The workspace_id of a grant that holds everywhere. */
const ALL_WORKSPACES = '';

export interface GrantInput {
  readonly role: Role;
  /** null: every workspace. */
  readonly workspace: string | null;
}

/** The role_grants.workspace_id a grant is stored under: a workspace's id, or ALL_WORKSPACES. */
async function grantWorkspaceId(db: Kysely<Database>, workspace: string | null): Promise<string> {
  return workspace === null ? ALL_WORKSPACES : (await findWorkspace(db, workspace)).id;
}

const MIN_PASSWORD_LENGTH = 8;

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new DroverError('DROVER_ERR_VALIDATION', `passwords must be at least ${MIN_PASSWORD_LENGTH} characters long`);
  }
}

export async function createUser(
  db: Kysely<Database>,
  input: { name: string; password?: string | undefined; grant: GrantInput },
): Promise<{ user: User; password: string }> {
  const name = parseUserName(input.name);
  const password = input.password ?? generatePassword();
  checkPassword(password);
  const row: UserRow = { id: randomUUID(), name, password_hash: await hashPassword(password), created_at: nowIso() };
  const workspaceId = await grantWorkspaceId(db, input.grant.workspace);
  await db.transaction().execute(async (tx) => {
    const inserted = await tx
      .insertInto('users')
      .values(row)
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) {
      throw new DroverError('DROVER_ERR_USER_EXISTS', `user ${JSON.stringify(name)} already exists`);
    }
    await tx.insertInto('role_grants').values({ user_id: row.id, workspace_id: workspaceId, role: input.grant.role, created_at: row.created_at }).execute();
  });
  return { user: await getUser(db, name), password };
}

export async function findUserRow(db: Kysely<Database>, name: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
}

async function requireUserRow(db: Kysely<Database>, name: string): Promise<UserRow> {
  const row = await findUserRow(db, name);
  if (!row) throw new DroverError('DROVER_ERR_USER_NOT_FOUND', `no user ${JSON.stringify(name)}`);
  return row;
}

/** Gives (or changes) a user's role in one workspace or in all. */
export async function grantRole(db: Kysely<Database>, name: string, grant: GrantInput): Promise<User> {
  const user = await requireUserRow(db, name);
  const workspaceId = await grantWorkspaceId(db, grant.workspace);
  await db
    .insertInto('role_grants')
    .values({ user_id: user.id, workspace_id: workspaceId, role: grant.role, created_at: nowIso() })
    .onConflict((oc) => oc.columns(['user_id', 'workspace_id']).doUpdateSet({ role: grant.role }))
    .execute();
  return getUser(db, name);
}

/** Removes a user's grant in one workspace (or the global one). */
export async function revokeRole(db: Kysely<Database>, name: string, workspace: string | null): Promise<User> {
  const user = await requireUserRow(db, name);
  const workspaceId = await grantWorkspaceId(db, workspace);
  await db.deleteFrom('role_grants').where('user_id', '=', user.id).where('workspace_id', '=', workspaceId).execute();
  return getUser(db, name);
}

export async function setPassword(db: Kysely<Database>, name: string, password?: string): Promise<string> {
  const user = await requireUserRow(db, name);
  const next = password ?? generatePassword();
  checkPassword(next);
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('users')
      .set({ password_hash: await hashPassword(next) })
      .where('id', '=', user.id)
      .execute();
    // A new password ends every session signed in with the old one.
    await deleteSessionsOf(tx, user.id);
  });
  return next;
}

export async function deleteUser(db: Kysely<Database>, name: string): Promise<void> {
  const result = await db.deleteFrom('users').where('name', '=', name).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw new DroverError('DROVER_ERR_USER_NOT_FOUND', `no user ${JSON.stringify(name)}`);
}

/** Grants of some users, with workspace names, keyed by user id. */
async function grantsOf(db: Kysely<Database>, userIds: readonly string[]): Promise<Map<string, User['grants']>> {
  const out = new Map<string, User['grants']>();
  if (userIds.length === 0) return out;
  const rows = await db
    .selectFrom('role_grants')
    .leftJoin('workspaces', 'workspaces.id', 'role_grants.workspace_id')
    .select(['role_grants.user_id', 'role_grants.workspace_id', 'role_grants.role', 'workspaces.name as workspace_name'])
    .where('role_grants.user_id', 'in', userIds)
    .orderBy('workspaces.name')
    .execute();
  for (const r of rows) {
    if (r.workspace_id !== ALL_WORKSPACES && !r.workspace_name) continue; // the workspace was deleted
    const list = out.get(r.user_id) ?? [];
    list.push({ workspace: r.workspace_id === ALL_WORKSPACES ? null : r.workspace_name, role: r.role });
    out.set(r.user_id, list);
  }
  return out;
}

export async function getUser(db: Kysely<Database>, name: string): Promise<User> {
  const row = await requireUserRow(db, name);
  const grants = await grantsOf(db, [row.id]);
  return { name: row.name, createdAt: row.created_at, grants: grants.get(row.id) ?? [] };
}

export async function listUsers(db: Kysely<Database>): Promise<User[]> {
  const rows = await db.selectFrom('users').selectAll().orderBy('name').execute();
  const grants = await grantsOf(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => ({ name: r.name, createdAt: r.created_at, grants: grants.get(r.id) ?? [] }));
}

/** What a user may do where: the global role and per-workspace roles, by workspace id. */
export interface UserRoles {
  readonly global: Role | null;
  readonly byWorkspaceId: ReadonlyMap<string, Role>;
}

export async function rolesOf(db: Kysely<Database>, userId: string): Promise<UserRoles> {
  const rows = await db.selectFrom('role_grants').select(['workspace_id', 'role']).where('user_id', '=', userId).execute();
  let global: Role | null = null;
  const byWorkspaceId = new Map<string, Role>();
  for (const r of rows) {
    if (r.workspace_id === ALL_WORKSPACES) global = r.role;
    else byWorkspaceId.set(r.workspace_id, r.role);
  }
  return { global, byWorkspaceId };
}

export function roleIn(roles: UserRoles, workspaceId: string): Role | null {
  return strongerRole(roles.global, roles.byWorkspaceId.get(workspaceId) ?? null);
}

/** Removes every grant in one workspace (it is being deleted). */
export async function deleteGrantsIn(db: Kysely<Database>, workspaceId: string): Promise<void> {
  await db.deleteFrom('role_grants').where('workspace_id', '=', workspaceId).execute();
}
