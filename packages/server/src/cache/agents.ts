/**
 * Which binary cache agents substitute from: the workspace's external cache
 * when one is set, otherwise its built-in cache (the oldest of the
 * workspace). The built-in one is sent as a path on the server
 * (`/cache/NAME`, `builtin: true`): the agent resolves it against the URL it
 * connected to and authenticates with its own token through a netrc file.
 */
import type { Kysely } from 'kysely';
import { CACHE_PATH_PREFIX, type CacheConfig } from '@drover/protocol';
import type { Database } from '../db/schema.js';

export async function builtinCaches(db: Kysely<Database>, workspaceIds: readonly string[]): Promise<Map<string, CacheConfig>> {
  const out = new Map<string, CacheConfig>();
  if (workspaceIds.length === 0) return out;
  const rows = await db
    .selectFrom('caches')
    .select(['workspace_id', 'name', 'public_key'])
    .where('workspace_id', 'in', [...new Set(workspaceIds)])
    .orderBy('created_at', 'desc')
    .execute();
  // Newest first, so the oldest cache of each workspace is set last and wins.
  for (const r of rows) out.set(r.workspace_id, { substituter: `${CACHE_PATH_PREFIX}/${r.name}`, publicKey: r.public_key, builtin: true });
  return out;
}

/** The external cache if set, else the workspace's built-in one, else null. */
export async function effectiveCache(db: Kysely<Database>, workspaceId: string, external: CacheConfig | null): Promise<CacheConfig | null> {
  if (external) return external;
  return (await builtinCaches(db, [workspaceId])).get(workspaceId) ?? null;
}
