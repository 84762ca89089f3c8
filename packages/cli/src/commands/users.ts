/**
 * `drover user …`: web UI accounts, managed on the server's machine against
 * its database (like `drover workspace create`), never over the API, so a
 * stolen session cannot mint admins.
 */
import { createInterface } from 'node:readline';
import { DroverError, isRole, ROLES, type Role } from '@drover/protocol';
import { createUser, deleteUser, grantRole, listUsers, revokeRole, setPassword, type OpenDatabase } from '@drover/server';
import { openLocalDatabase, type AdminFlags } from '../admin-target.js';
import { info, out, printJson, table } from '../output.js';

async function withDatabase<T>(flags: AdminFlags, fn: (db: OpenDatabase) => Promise<T>): Promise<T> {
  const database = await openLocalDatabase(flags);
  try {
    return await fn(database);
  } finally {
    await database.close();
  }
}

function roleFrom(value: string): Role {
  if (!isRole(value)) throw new DroverError('DROVER_ERR_VALIDATION', `role must be one of ${ROLES.join(', ')} (got ${JSON.stringify(value)})`);
  return value;
}

/** The first line of stdin, for `--password-stdin` (so a password never shows in `ps` or shell history). */
async function passwordFromStdin(): Promise<string> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    lines.close();
    return line;
  }
  throw new DroverError('DROVER_ERR_VALIDATION', '--password-stdin: stdin was empty; pipe the password in');
}

const where = (workspace: string | undefined) => (workspace ? `in workspace ${workspace}` : 'in every workspace');

export async function userCreate(name: string, flags: AdminFlags & { role: string; workspace?: string; passwordStdin?: boolean }): Promise<void> {
  const role = roleFrom(flags.role);
  const given = flags.passwordStdin ? await passwordFromStdin() : undefined;
  const { user, password } = await withDatabase(flags, (d) => createUser(d.db, { name, password: given, grant: { role, workspace: flags.workspace ?? null } }));
  if (!given) out(password);
  info(`created user ${user.name}, ${role} ${where(flags.workspace)}${given ? '' : '; the password above is shown only once'}`);
}

export async function userGrant(name: string, role: string, flags: AdminFlags & { workspace?: string }): Promise<void> {
  const user = await withDatabase(flags, (d) => grantRole(d.db, name, { role: roleFrom(role), workspace: flags.workspace ?? null }));
  info(`${user.name} is now ${role} ${where(flags.workspace)}`);
}

export async function userUngrant(name: string, flags: AdminFlags & { workspace?: string }): Promise<void> {
  await withDatabase(flags, (d) => revokeRole(d.db, name, flags.workspace ?? null));
  info(`${name} no longer has a role ${where(flags.workspace)}`);
}

export async function userPassword(name: string, flags: AdminFlags & { passwordStdin?: boolean }): Promise<void> {
  const given = flags.passwordStdin ? await passwordFromStdin() : undefined;
  const password = await withDatabase(flags, (d) => setPassword(d.db, name, given));
  if (!given) out(password);
  info(`new password set for ${name}; its sessions were ended`);
}

export async function userDelete(name: string, flags: AdminFlags): Promise<void> {
  await withDatabase(flags, (d) => deleteUser(d.db, name));
  info(`user ${name} deleted`);
}

export async function userList(flags: AdminFlags & { json?: boolean }): Promise<void> {
  const users = await withDatabase(flags, (d) => listUsers(d.db));
  if (flags.json) {
    printJson(users);
    return;
  }
  out(
    table([['NAME', 'ROLES', 'CREATED'], ...users.map((u) => [u.name, u.grants.map((g) => `${g.role}@${g.workspace ?? '*'}`).join(', ') || '-', u.createdAt])]),
  );
}
