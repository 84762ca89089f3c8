/**
 * One deployment at a time per profile, with a lock that a crash cannot
 * leave stale: the lock file holds the owner's PID and start time, and a
 * lock whose owner is gone is taken over.
 */
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatStamp, isAlive, parseStamp, stampOf, type ProcessStamp } from '../process-alive.js';

export function lockPathFor(profilePath: string): string {
  return `${profilePath}.drover-lock`;
}

function readHolder(path: string): { text: string; stamp: ProcessStamp | null } | null {
  try {
    const text = readFileSync(path, 'utf8');
    return { text, stamp: parseStamp(text) };
  } catch {
    return null;
  }
}

/**
 * Takes the lock, waiting while a live process holds it. Returns a release
 * function. `onWait` is called once with the holder's PID.
 */
export async function acquireProfileLock(
  profilePath: string,
  opts: { onWait?: (pid: number) => void; signal?: AbortSignal; pollMs?: number } = {},
): Promise<() => void> {
  const path = lockPathFor(profilePath);
  const mine = formatStamp(stampOf());
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, mine, { mode: 0o644 });
  let told = false;
  try {
    for (;;) {
      opts.signal?.throwIfAborted();
      try {
        linkSync(temp, path); // atomic: fails when the lock exists
        return () => {
          const holder = readHolder(path);
          if (holder?.text === mine) unlinkSync(path);
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = readHolder(path);
      if (holder && (!holder.stamp || !isAlive(holder.stamp))) {
        // Stale: its owner died. Remove it only if it is still the same stale lock.
        if (readHolder(path)?.text === holder.text) {
          try {
            unlinkSync(path);
          } catch {
            /* someone else took it over first */
          }
        }
        continue;
      }
      if (!told && holder?.stamp) {
        told = true;
        opts.onWait?.(holder.stamp.pid);
      }
      await sleep(opts.pollMs ?? 500);
    }
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      /* already gone */
    }
  }
}
