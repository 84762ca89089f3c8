/**
 * Materialising an agent's secret set, in two steps so that nothing is
 * written unless everything can be:
 *
 *  1. `prepareSecrets`: decrypt every secret and resolve every owner and
 *     group (a failure names the secret; nothing has been touched);
 *  2. `writeSecrets`: write each file atomically (unchanged ones — same
 *     version, path, owner, group and mode as last applied, file present —
 *     are left alone), warn about a directory that is not on a tmpfs,
 *     delete the files of secrets no longer in the set, and record the set
 *     as applied (applied.ts).
 *
 * At agent start (`onlyMissing`) only files that are missing are written
 * again from the last applied set (after a reboot /run is empty); nothing
 * is deleted and the record stays as it is.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SecretOrder } from '@drover/protocol/wire';
import { resolveOwner, type FileOwner } from './accounts.js';
import { readApplied, saveApplied } from './applied.js';
import { decryptSecrets, type DecryptedSecret } from './decrypt.js';
import { SecretFailure } from './failure.js';
import { ensureSecretsDir, filesystemTypeOf, isMemoryFilesystem, removeSecretFile, writeSecretFile } from './files.js';

export interface PreparedSecrets {
  readonly set: readonly SecretOrder[];
  readonly files: readonly (DecryptedSecret & { readonly owner: FileOwner })[];
}

export interface WriteOptions {
  readonly stateDir: string;
  /** One line for the log (the deployment's, or the agent's); never given plaintext. */
  readonly say: (text: string) => void;
  /** Agent start: write only the files that are missing; delete nothing, record nothing. */
  readonly onlyMissing?: boolean;
}

/** Decrypts the whole set and resolves its owners; throws a SecretFailure before anything is written. */
export async function prepareSecrets(set: readonly SecretOrder[], identityFile: string | null): Promise<PreparedSecrets> {
  const decrypted = await decryptSecrets(set, identityFile);
  return { set, files: decrypted.map((d) => ({ ...d, owner: resolveOwner(d.order) })) };
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

function errText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = 'code' in err && typeof err.code === 'string' ? err.code : null;
  return code ?? err.message;
}

function sameFile(a: SecretOrder, b: SecretOrder): boolean {
  return a.version === b.version && a.path === b.path && a.owner === b.owner && a.group === b.group && a.mode === b.mode;
}

/** Writes the prepared set (see the module comment); throws a SecretFailure naming the file that could not be written. */
export function writeSecrets(prepared: PreparedSecrets, opts: WriteOptions): void {
  const previous = readApplied(opts.stateDir);
  const checkedDirs = new Set<string>();
  for (const { order, plaintext, owner } of prepared.files) {
    const present = existsSync(order.path);
    const before = previous.find((p) => p.name === order.name);
    if (present && (opts.onlyMissing === true || (before !== undefined && sameFile(before, order)))) {
      opts.say(`secret ${order.name}: unchanged (version ${order.version}, ${order.path})`);
      continue;
    }
    const dir = dirname(order.path);
    try {
      ensureSecretsDir(dir);
      writeSecretFile(order.path, plaintext, owner, order.mode);
    } catch (err) {
      throw new SecretFailure(`secret "${order.name}": cannot write ${order.path} (${errText(err)})`);
    }
    opts.say(`secret ${order.name}: wrote ${order.path} (version ${order.version}, mode ${octal(order.mode)}, owner ${owner.uid}:${owner.gid})`);
    if (!checkedDirs.has(dir)) {
      checkedDirs.add(dir);
      const type = filesystemTypeOf(dir);
      if (type !== null && !isMemoryFilesystem(type)) {
        opts.say(`warning: ${dir} is not on a tmpfs (it is on ${type}): the secrets there stay on disk after shutdown; a path under /run keeps them in memory`);
      }
    }
  }
  if (opts.onlyMissing === true) return;
  const kept = new Set(prepared.set.map((s) => s.path));
  for (const old of previous) {
    if (kept.has(old.path)) continue;
    const why = prepared.set.some((s) => s.name === old.name) ? 'its path changed' : 'no longer set for this agent';
    try {
      removeSecretFile(old.path);
    } catch (err) {
      throw new SecretFailure(`secret "${old.name}": cannot remove ${old.path} (${errText(err)})`);
    }
    opts.say(`secret ${old.name}: removed ${old.path} (${why})`);
  }
  // Nothing to record when the set is what was applied (most deployments): no write to the state directory.
  if (JSON.stringify(previous) === JSON.stringify(prepared.set)) return;
  try {
    saveApplied(opts.stateDir, prepared.set);
  } catch (err) {
    throw new SecretFailure(`cannot record the applied secrets in the agent's state directory ${opts.stateDir} (${errText(err)})`);
  }
}
