/**
 * Which store paths the cache agents of a workspace substitute from lacks —
 * asked by `activate` before it creates anything. The built-in cache is one
 * lookup per 500 paths; an external cache is asked with `HEAD
 * URL/HASH.narinfo`, a bounded number at once, each with a timeout and all
 * within one deadline, so a slow or unreachable cache fails the check in
 * bounded time (its paths are reported as not checked) instead of hanging
 * the request.
 */
import type { Kysely } from 'kysely';
import type { StorePath } from '@drover/protocol';
import { storeHashOf } from '@drover/nix';
import type { Database } from '../db/schema.js';
import { agentCacheOf } from './agents.js';
import { presentPaths } from './paths-repository.js';

/** Bounds of the external check: requests at once, per request, in all, and the most distinct paths asked about. */
const EXTERNAL_CHECK_LIMITS = { concurrency: 16, requestMs: 5000, totalMs: 30_000, maxPaths: 1000 } as const;

/** The reason of a path the cache answered it does not hold. */
export const NOT_IN_CACHE = 'not in the cache';

interface AbsentPath {
  readonly path: StorePath;
  /** Why it counts as absent: not in the cache, or the answer that left it unknown. */
  readonly reason: string;
}

export interface CachePresence {
  /** How the user names the cache: the built-in cache's name, or the external substituter URL. */
  readonly cache: string;
  readonly builtin: boolean;
  readonly absent: AbsentPath[];
  /** Paths past `maxPaths` that were not asked about (external caches only). */
  readonly unchecked: number;
}

/** The answer of one `HEAD …narinfo`: null when the cache has the path, else why it does not count as there. */
async function headNarinfo(url: string, deadline: number): Promise<string | null> {
  const left = deadline - Date.now();
  if (left <= 0) return `not checked: the cache check ran out of its ${EXTERNAL_CHECK_LIMITS.totalMs / 1000} s`;
  try {
    const res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(Math.min(EXTERNAL_CHECK_LIMITS.requestMs, left)) });
    await res.body?.cancel();
    if (res.ok) return null;
    return res.status === 404 ? NOT_IN_CACHE : `not checked: the cache answered HTTP ${res.status}`;
  } catch (err) {
    const timedOut = err instanceof Error && err.name === 'TimeoutError';
    return timedOut ? `not checked: no answer from the cache within ${EXTERNAL_CHECK_LIMITS.requestMs / 1000} s` : `not checked: ${(err as Error).message}`;
  }
}

async function externalAbsent(substituter: string, paths: readonly StorePath[]): Promise<AbsentPath[]> {
  const base = substituter.replace(/\/+$/, '');
  const deadline = Date.now() + EXTERNAL_CHECK_LIMITS.totalMs;
  const reasons: (string | null)[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++, path = paths[i]; path !== undefined; i = next++, path = paths[i]) {
      reasons[i] = await headNarinfo(`${base}/${storeHashOf(path)}.narinfo`, deadline);
    }
  };
  await Promise.all(Array.from({ length: Math.min(EXTERNAL_CHECK_LIMITS.concurrency, paths.length) }, worker));
  return paths.flatMap((path, i) => {
    const reason = reasons[i];
    return reason ? [{ path, reason }] : [];
  });
}

/**
 * The distinct `paths` the workspace's agents could not substitute from
 * their cache. Null when there is nothing to check against: no cache is set
 * (agents use only their own substituters), or the external one is not
 * reachable over HTTP(S) from the server (a `file://` or `s3://` URL).
 */
export async function absentFromAgentCache(db: Kysely<Database>, workspaceId: string, paths: readonly StorePath[]): Promise<CachePresence | null> {
  const distinct = [...new Set(paths)];
  const cache = await agentCacheOf(db, workspaceId);
  if (!cache) return null;
  if ('builtin' in cache) {
    const present = await presentPaths(db, cache.builtin.id, distinct);
    const absent = distinct.filter((p) => !present.has(p)).map((path) => ({ path, reason: NOT_IN_CACHE }));
    return { cache: cache.builtin.name, builtin: true, absent, unchecked: 0 };
  }
  const url = cache.external.substituter;
  if (!/^https?:\/\//.test(url)) return null;
  const asked = distinct.slice(0, EXTERNAL_CHECK_LIMITS.maxPaths);
  return { cache: url, builtin: false, absent: await externalAbsent(url, asked), unchecked: distinct.length - asked.length };
}
