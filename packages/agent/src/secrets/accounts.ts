/**
 * A secret's owner and group as numeric ids: a number is taken as it is, a
 * name is looked up with `getent` (NSS: local files, LDAP, systemd's
 * dynamic users), else in /etc/passwd and /etc/group, else with `id` (macOS
 * has no getent). A null owner is the agent's own user; a null group is the
 * owner's primary group (the agent's own group when the owner is null too).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { SecretOrder } from '@drover/protocol/wire';
import { SecretFailure } from './failure.js';

export interface FileOwner {
  readonly uid: number;
  readonly gid: number;
}

const NUMERIC = /^[0-9]+$/;

/** The output of a lookup command, or null when it fails or is missing. */
function ask(file: string, args: readonly string[]): string | null {
  try {
    return execFileSync(file, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** The fields of the `name` line of a colon-separated database text (`getent` output, /etc/passwd, /etc/group). */
function entry(text: string | null, name: string): string[] | null {
  for (const line of (text ?? '').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === name) return fields;
  }
  return null;
}

function readEtc(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** uid and primary gid of a user name, or null when there is no such user. */
function lookupUser(name: string): FileOwner | null {
  const fields = entry(ask('getent', ['passwd', name]), name) ?? entry(readEtc('/etc/passwd'), name);
  if (fields) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  const uid = ask('id', ['-u', name]);
  const gid = ask('id', ['-g', name]);
  return uid !== null && gid !== null && NUMERIC.test(uid) && NUMERIC.test(gid) ? { uid: Number(uid), gid: Number(gid) } : null;
}

function lookupGroup(name: string): number | null {
  const fields = entry(ask('getent', ['group', name]), name) ?? entry(readEtc('/etc/group'), name);
  if (fields) return Number(fields[2]);
  const dscl = ask('dscl', ['.', '-read', `/Groups/${name}`, 'PrimaryGroupID']);
  const id = /PrimaryGroupID:\s*(\d+)/.exec(dscl ?? '')?.[1];
  return id === undefined ? null : Number(id);
}

/** The ids `secret`'s file gets; throws a SecretFailure naming an owner or group this machine does not have. */
export function resolveOwner(secret: Pick<SecretOrder, 'name' | 'owner' | 'group'>): FileOwner {
  const self = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  let user: FileOwner = self;
  if (secret.owner !== null) {
    const found = NUMERIC.test(secret.owner) ? { uid: Number(secret.owner), gid: self.gid } : lookupUser(secret.owner);
    if (found === null)
      throw new SecretFailure(
        `secret "${secret.name}": there is no user "${secret.owner}" on this machine (create it, or set the secret with another --owner)`,
      );
    user = found;
  }
  if (secret.group === null) return user;
  const gid = NUMERIC.test(secret.group) ? Number(secret.group) : lookupGroup(secret.group);
  if (gid === null)
    throw new SecretFailure(
      `secret "${secret.name}": there is no group "${secret.group}" on this machine (create it, or set the secret with another --owner USER:GROUP)`,
    );
  return { uid: user.uid, gid };
}
