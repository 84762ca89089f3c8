/**
 * The local Nix store as tests see it: whether a path is there, a path's
 * closure, and deleting closures so they must be substituted again.
 * Assumes single-user root Nix as configured by `scripts/setup-nix.sh`.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { describeFailure, run, runOk } from './run.js';

/** Whether `path` is a valid (registered and present) path of the local store. */
export function isInStore(path: string): boolean {
  try {
    lstatSync(path);
  } catch {
    return false;
  }
  return spawnSync('nix-store', ['--check-validity', path], { stdio: 'ignore' }).status === 0;
}

/** The store paths in the closures of `paths`. */
export async function closureOf(...paths: readonly string[]): Promise<string[]> {
  const res = await runOk('nix-store', ['--query', '--requisites', ...paths]);
  return res.stdout.split('\n').filter((line) => line !== '');
}

const STILL_ALIVE = /Cannot delete path '([^']+)' since it is still alive/i;

/**
 * Delete `paths` and every member of their closures that nothing else needs
 * from the local store, so they have to be substituted again. Dependencies
 * still referenced by other paths (or reachable from GC roots) are kept.
 * Throws if any of `paths` itself is still present afterwards.
 */
export async function deleteFromStore(paths: readonly string[]): Promise<void> {
  const present = paths.filter((p) => isInStore(p));
  if (present.length === 0) return;
  const closure = await closureOf(...present);
  const candidates = new Set(closure);

  // `nix-store --delete` refuses the whole batch when any one path is alive
  // (rooted, or referenced from outside the batch). Drop the path it names,
  // plus its own closure (which it keeps alive), and try again.
  for (let attempt = 0; attempt <= closure.length && candidates.size > 0; attempt++) {
    const batch = [...candidates].filter((p) => isInStore(p));
    if (batch.length === 0) break;
    const res = await run('nix-store', ['--delete', ...batch]);
    if (res.code === 0) break;
    const alive = STILL_ALIVE.exec(res.stderr)?.[1];
    if (alive === undefined || !candidates.has(alive)) throw new Error(describeFailure('nix-store', ['--delete', ...batch], res));
    candidates.delete(alive);
    for (const p of await closureOf(alive).catch((): string[] => [])) candidates.delete(p);
  }

  const left = present.filter((p) => isInStore(p));
  if (left.length > 0) {
    const roots = await run('nix-store', ['--query', '--roots', ...left]);
    throw new Error(`deleteFromStore: still in the store: ${left.join(' ')}\nGC roots keeping them alive:\n${roots.stdout.trim() || '(none found)'}`);
  }
}
