/**
 * The server's closure diffs: when deployments are created, each is diffed
 * against its agent's current path if the workspace's agents substitute
 * from a built-in cache holding both closures (their References are in the
 * narinfos). Each distinct pair of paths is computed once however many
 * agents make that move, and at most MAX_PAIRS pairs per activation; the
 * rest — and everything with an external cache — is left to the agents,
 * whose orders then ask for a diff (`wantDiff`). Never fails an activation:
 * a diff that cannot be computed is only logged.
 */
import { diffClosures, isStorePath, type ClosureDiff, type ClosurePath, type StorePath } from '@drover/protocol';
import type { ServerContext } from '../context.js';
import type { DeploymentRow } from '../db/schema.js';
import { currentPathsById } from '../agents/repository.js';
import { agentCacheOf } from '../cache/agents.js';
import { cachedClosure } from '../cache/closure.js';
import { recordDiff } from './diffs-repository.js';

/** Distinct (from, to) pairs one activation diffs on the server. */
const MAX_PAIRS = 16;

/** Diffs the new deployments whose both closures the built-in cache holds, and stores those diffs; the ids of the deployments that got one. */
export async function recordServerDiffs(ctx: ServerContext, workspaceId: string, rows: readonly DeploymentRow[]): Promise<Set<string>> {
  const diffed = new Set<string>();
  try {
    const cache = await agentCacheOf(ctx.db, workspaceId);
    if (!cache || !('builtin' in cache) || rows.length === 0) return diffed;
    const cacheId = cache.builtin.id;
    const current = await currentPathsById(
      ctx.db,
      rows.map((r) => r.agent_id),
    );
    const byPair = new Map<string, { from: StorePath; to: StorePath; ids: string[] }>();
    for (const row of rows) {
      const from = current.get(row.agent_id);
      if (!from || !isStorePath(from) || !isStorePath(row.store_path)) continue;
      const key = `${from} ${row.store_path}`;
      const pair = byPair.get(key) ?? { from, to: row.store_path, ids: [] };
      pair.ids.push(row.id);
      byPair.set(key, pair);
    }
    const closures = new Map<string, Promise<ClosurePath[] | null>>();
    const closureOf = (path: StorePath) => {
      let closure = closures.get(path);
      if (!closure) closures.set(path, (closure = cachedClosure(ctx.db, cacheId, path)));
      return closure;
    };
    for (const { from, to, ids } of [...byPair.values()].slice(0, MAX_PAIRS)) {
      const [fromClosure, toClosure] = [await closureOf(from), await closureOf(to)];
      if (!fromClosure || !toClosure) continue;
      const diff: ClosureDiff = diffClosures({ from, to, source: 'server', fromClosure, toClosure });
      await recordDiff(ctx.db, workspaceId, diff, ids);
      for (const id of ids) diffed.add(id);
    }
  } catch (err) {
    ctx.log.warn({ err, workspace: workspaceId }, 'closure diffs could not be computed on the server; the agents will compute them');
  }
  return diffed;
}
