/**
 * Writing secret files: each one atomically (a temporary file in the same
 * directory, owner and mode set before it is renamed into place, so a
 * service never reads half a secret or one with the wrong mode), its
 * directory created 0751 when missing (the default /run/drover/secrets
 * always 0751: others may pass through to the files they own, never list
 * them), and whether a directory is on a tmpfs (a secret elsewhere stays on
 * disk after shutdown).
 */
import { chmodSync, closeSync, existsSync, fchmodSync, fchownSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SECRETS_DIR } from '@drover/protocol/wire';
import type { FileOwner } from './accounts.js';

/** Mode of the directories Drover creates for secrets. */
const SECRETS_DIR_MODE = 0o751;

/** Creates `dir` and any missing parents with mode 0751; the default secrets directory gets 0751 even when it exists. */
export function ensureSecretsDir(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d) && d !== dirname(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    mkdirSync(d, { recursive: true });
    chmodSync(d, SECRETS_DIR_MODE);
  }
  if (dir === SECRETS_DIR) chmodSync(dir, SECRETS_DIR_MODE);
}

/** Writes `content` to `path` with owner and mode, replacing any file there in one rename. */
export function writeSecretFile(path: string, content: Uint8Array, owner: FileOwner, mode: number): void {
  const temp = join(dirname(path), `.${basename(path)}.drover-${process.pid}.tmp`);
  rmSync(temp, { force: true });
  const fd = openSync(temp, 'wx', 0o600);
  try {
    try {
      // Owner first (a chown may clear setuid bits), then the mode, all before a byte lands.
      if (owner.uid !== process.getuid?.() || owner.gid !== process.getgid?.()) fchownSync(fd, owner.uid, owner.gid);
      fchmodSync(fd, mode);
      for (let done = 0; done < content.length;) done += writeSync(fd, content, done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/** Removes a secret file (nothing there is fine). */
export function removeSecretFile(path: string): void {
  rmSync(path, { force: true });
}

/** Unescapes the octal escapes of a /proc/mounts field (`\040` is a blank). */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The filesystem type `dir` is on, from the longest mount point above it in
 * /proc/mounts; null where there is no /proc/mounts (macOS).
 */
export function filesystemTypeOf(dir: string, mounts = '/proc/mounts'): string | null {
  let text: string;
  try {
    text = readFileSync(mounts, 'utf8');
  } catch {
    return null;
  }
  let best: { point: string; type: string } | null = null;
  for (const line of text.split('\n')) {
    const [, rawPoint, type] = line.split(' ');
    if (rawPoint === undefined || type === undefined) continue;
    const point = unescapeMount(rawPoint);
    const inside = point === '/' || dir === point || dir.startsWith(`${point}/`);
    if (inside && (best === null || point.length >= best.point.length)) best = { point, type };
  }
  return best?.type ?? null;
}

/** Memory-backed filesystems: what a secret file should live on. */
export function isMemoryFilesystem(type: string): boolean {
  return type === 'tmpfs' || type === 'ramfs';
}
