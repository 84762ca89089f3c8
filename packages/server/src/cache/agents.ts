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

/** Where agents of a workspace substitute from: its external cache, else the row of its oldest built-in cache. */
type AgentCacheSource = { builtin: CacheRow } | { external: CacheConfig };

/** The rule itself, for any number of workspaces in two queries (null: the workspace has no cache). */
async function agentCacheSources(db: Kysely<Database>, workspaceIds: readonly string[]): Promise<Map<string, AgentCacheSource | null>> {
  const workspaces = await getWorkspacesByIds(db, [...new Set(workspaceIds)]);
  const builtin = await oldestCaches(
    db,
    workspaces.filter((w) => !externalCacheOf(w)).map((w) => w.id),
  );
  const out = new Map<string, AgentCacheSource | null>();
  for (const w of workspaces) {
    const external = externalCacheOf(w);
    const row = builtin.get(w.id);
    out.set(w.id, external ? { external } : row ? { builtin: row } : null);
  }
  return out;
}

/** The cache agents of each of these workspaces use (null: none), as agents are told of it; the built-in one as a path on the server. */
export async function agentCaches(db: Kysely<Database>, workspaceIds: readonly string[]): Promise<Map<string, CacheConfig | null>> {
  const out = new Map<string, CacheConfig | null>();
  for (const [workspaceId, source] of await agentCacheSources(db, workspaceIds)) {
    if (source === null) out.set(workspaceId, null);
    else if ('external' in source) out.set(workspaceId, source.external);
    else out.set(workspaceId, { substituter: `${CACHE_PATH_PREFIX}/${source.builtin.name}`, publicKey: source.builtin.public_key, builtin: true });
  }
  return out;
}

/** The cache agents of one workspace use, as a check of its contents needs it: the built-in cache's row, or the external substituter (null: none). */
export async function agentCacheOf(db: Kysely<Database>, workspaceId: string): Promise<AgentCacheSource | null> {
  return (await agentCacheSources(db, [workspaceId])).get(workspaceId) ?? null;
}
