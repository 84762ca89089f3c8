/**
 * `drover user …`: web UI accounts, managed on the server's machine against
 * its database (like `drover workspace create`), never over the API, so a
 * stolen session cannot mint admins.
 */
import { createInterface } from 'node:readline';
import { DroverError, isRole, ROLES, type Role } from '@drover/protocol';
import { createUser, deleteUser, grantRole, listUsers, revokeRole, setPassword, type OpenDatabase } from '@drover/server';
import { openLocalDatabase, type AdminFlags } from '../admin-target.js';
import { recordLocal } from '../local-audit.js';
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
  const { user, password } = await withDatabase(flags, async (d) => {
    const created = await createUser(d.db, { name, password: given, grant: { role, workspace: flags.workspace ?? null } });
    await recordLocal(d, 'user.create', created.user.name, flags.workspace ?? null, { role, workspace: flags.workspace ?? '*' });
    return created;
  });
  if (!given) out(password);
  info(`created user ${user.name}, ${role} ${where(flags.workspace)}${given ? '' : '; the password above is shown only once'}`);
}

export async function userGrant(name: string, role: string, flags: AdminFlags & { workspace?: string }): Promise<void> {
  const user = await withDatabase(flags, async (d) => {
    const granted = await grantRole(d.db, name, { role: roleFrom(role), workspace: flags.workspace ?? null });
    await recordLocal(d, 'user.grant', granted.name, flags.workspace ?? null, { role, workspace: flags.workspace ?? '*' });
    return granted;
  });
  info(`${user.name} is now ${role} ${where(flags.workspace)}`);
}

export async function userUngrant(name: string, flags: AdminFlags & { workspace?: string }): Promise<void> {
  await withDatabase(flags, async (d) => {
    await revokeRole(d.db, name, flags.workspace ?? null);
    await recordLocal(d, 'user.ungrant', name, flags.workspace ?? null, { workspace: flags.workspace ?? '*' });
  });
  info(`${name} no longer has a role ${where(flags.workspace)}`);
}

export async function userPassword(name: string, flags: AdminFlags & { passwordStdin?: boolean }): Promise<void> {
  const given = flags.passwordStdin ? await passwordFromStdin() : undefined;
  const password = await withDatabase(flags, async (d) => {
    const set = await setPassword(d.db, name, given);
    await recordLocal(d, 'user.set-password', name, null);
    return set;
  });
  if (!given) out(password);
  info(`new password set for ${name}; its sessions were ended`);
}

export async function userDelete(name: string, flags: AdminFlags): Promise<void> {
  await withDatabase(flags, async (d) => {
    await deleteUser(d.db, name);
    await recordLocal(d, 'user.delete', name, null);
  });
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
