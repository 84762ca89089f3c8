/**
 * Which binary cache agents substitute from — answered here and nowhere
 * else, at hello (`registered`) and at every delivery (`deploy`): the
 * workspace's external cache when one is set, otherwise its built-in cache
 * (the oldest of the workspace). The built-in one is sent as a path on the
 * server (`/cache/NAME`, `builtin: true`): the agent resolves it against the
 * URL it connected to and authenticates with its own token through a netrc
 * file.
 */
import type { Kysely } from 'kysely';
import { CACHE_PATH_PREFIX, type CacheConfig } from '@drover/protocol';
import type { Database } from '../db/schema.js';
import { externalCacheOf, getWorkspacesByIds } from '../workspaces/repository.js';
import { oldestCaches, type CacheRow } from './caches-repository.js';

/** The oldest built-in cache of each workspace, as agents are told of it. */
async function builtinCaches(db: Kysely<Database>, workspaceIds: readonly string[]): Promise<Map<string, CacheConfig>> {
  const out = new Map<string, CacheConfig>();
  for (const [workspaceId, r] of await oldestCaches(db, workspaceIds)) {
    out.set(workspaceId, { substituter: `${CACHE_PATH_PREFIX}/${r.name}`, publicKey: r.public_key, builtin: true });
  }
  return out;
}

/** The cache agents of each of these workspaces use (null: none), as it is now; two queries for any number of workspaces. */
export async function agentCaches(db: Kysely<Database>, workspaceIds: readonly string[]): Promise<Map<string, CacheConfig | null>> {
  const ids = [...new Set(workspaceIds)];
  const out = new Map<string, CacheConfig | null>();
  const workspaces = await getWorkspacesByIds(db, ids);
  const needBuiltin = workspaces.filter((w) => !externalCacheOf(w)).map((w) => w.id);
  const builtin = await builtinCaches(db, needBuiltin);
  for (const w of workspaces) out.set(w.id, externalCacheOf(w) ?? builtin.get(w.id) ?? null);
  return out;
}

/** The cache agents of one workspace use, as a check of its contents needs it: the built-in cache's row, or the external substituter (null: none). */
export async function agentCacheOf(db: Kysely<Database>, workspaceId: string): Promise<{ builtin: CacheRow } | { external: CacheConfig } | null> {
  const [workspace] = await getWorkspacesByIds(db, [workspaceId]);
  const external = workspace ? externalCacheOf(workspace) : null;
  if (external) return { external };
  const builtin = (await oldestCaches(db, [workspaceId])).get(workspaceId);
  return builtin ? { builtin } : null;
}
