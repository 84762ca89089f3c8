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

/** Workspaces whose answer `RecentAgentCaches` keeps; past it the old ones are dropped together. */
const RECENT_WORKSPACES_KEPT = 1000;

/**
 * The cache agents of each workspace use, as the `registered` message tells a connecting agent: read from the
 * database at most once per `maxAgeMs` per workspace. A fleet reconnecting sends thousands of hellos a second, and
 * each batch of them read the workspace and its caches again. An answer up to that old is harmless there: the agent
 * only logs it — every `deploy` order reads `agentCaches` fresh, and that is what the agent substitutes from.
 */
export class RecentAgentCaches {
  private readonly read = new Map<string, { readonly cache: CacheConfig | null; readonly at: number }>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly maxAgeMs = 1000,
  ) {}

  async of(workspaceIds: readonly string[]): Promise<Map<string, CacheConfig | null>> {
    const now = Date.now();
    const out = new Map<string, CacheConfig | null>();
    const missing: string[] = [];
    for (const id of new Set(workspaceIds)) {
      const recent = this.read.get(id);
      if (recent && now - recent.at < this.maxAgeMs) out.set(id, recent.cache);
      else missing.push(id);
    }
    if (missing.length === 0) return out;
    if (this.read.size >= RECENT_WORKSPACES_KEPT) this.read.clear();
    for (const [id, cache] of await agentCaches(this.db, missing)) {
      out.set(id, cache);
      this.read.set(id, { cache, at: now });
    }
    return out;
  }
}

/** The cache agents of one workspace use, as a check of its contents needs it: the built-in cache's row, or the external substituter (null: none). */
export async function agentCacheOf(db: Kysely<Database>, workspaceId: string): Promise<AgentCacheSource | null> {
  return (await agentCacheSources(db, [workspaceId])).get(workspaceId) ?? null;
}
