/**
 * Closure-aware garbage collection with deployment pins.
 *
 * A path is live while it is reachable, following References, from a root:
 * an agent's current store path, its last N successful deployments, any
 * pending or running deployment (path and rollbackScript), an explicit pin,
 * or a path younger than the grace period (the rules: gc-mark.ts).
 * Everything else is deleted, referrers before their references; a path an
 * upload touched meanwhile survives and keeps its whole closure. A NAR goes
 * once no narinfo of any cache refers to it and it is older than the grace
 * period.
 */
import type { Kysely } from 'kysely';
import { storeHashOf } from '@drover/nix';
import { isStorePath, type GcReport } from '@drover/protocol';
import { currentStorePaths } from '../agents/repository.js';
import type { Database } from '../db/schema.js';
import { nowIso } from '../db/time.js';
import { deployedPaths } from '../deployments/repository.js';
import type { CacheRow } from './caches-repository.js';
import { deletionOrder, deploymentRoots, markLive, PathGraph, type Root } from './gc-mark.js';
import { deleteOrphanNar, deleteUntouchedPath, gcPaths, narsUsedElsewhere, orphanNars } from './paths-repository.js';
import { activePins } from './pins-repository.js';
import type { NarStorage } from './storage/storage.js';

export interface GcOptions {
  readonly dryRun: boolean;
  readonly graceSeconds?: number | undefined;
}

/** What a GC run works with: the database, the NAR storage and the server's GC settings. */
export interface GcContext {
  readonly db: Kysely<Database>;
  readonly storage: NarStorage;
  readonly graceSeconds: number;
  readonly keepDeployments: number;
  /** Told the narinfos deleted (store hashes), before their NARs go: replicas forget their copies (memo.ts). */
  pathsChanged(cache: CacheRow, storeHashes: readonly string[]): Promise<void>;
}

/** Every root of a cache at `now`: its workspace's deployments and agents, and the cache's unexpired pins. */
async function rootsOf(gc: GcContext, cache: CacheRow, now: string): Promise<Root[]> {
  const fromAgents = deploymentRoots(await currentStorePaths(gc.db, cache.workspace_id), await deployedPaths(gc.db, cache.workspace_id), gc.keepDeployments);
  const pins = (await activePins(gc.db, cache.id, now)).map((p) => ({ storePath: p.store_path, reason: p.reason, expiresAt: p.expires_at }));
  return [...fromAgents, ...pins];
}

/** What sweeping the narinfos did: the deleted ones, those an upload touched meanwhile (with their closure), and the deleted ones' NAR files. */
export interface PathSweep {
  readonly deleted: GcReport['deleted'];
  readonly survivors: ReadonlySet<string>;
  readonly narCandidates: ReadonlySet<string>;
}

/** Deletes the narinfos `live` does not keep (or, dry, lists them), referrers first; one an upload touched since `cutoff` stays with its closure. */
export async function sweepPaths(
  gc: GcContext,
  cache: CacheRow,
  graph: PathGraph,
  live: ReadonlyMap<string, string>,
  cutoff: string,
  dryRun: boolean,
): Promise<PathSweep> {
  const deleted: GcReport['deleted'] = [];
  const survivors = new Set<string>();
  const narCandidates = new Set<string>();
  for (const hash of deletionOrder(graph, live)) {
    const row = graph.byHash.get(hash);
    if (!row || survivors.has(hash)) continue;
    if (!dryRun && !(await deleteUntouchedPath(gc.db, cache.id, hash, cutoff))) {
      for (const h of graph.closureOf(hash)) survivors.add(h);
      continue;
    }
    deleted.push({ storePath: row.store_path, reason: 'not reachable from any pin', narSize: row.nar_size });
    narCandidates.add(row.nar_file);
  }
  return { deleted, survivors, narCandidates };
}

/** Deletes the NAR files no narinfo refers to any more (or, dry, counts those that would go with `narCandidates`). */
async function sweepNars(
  gc: GcContext,
  cache: CacheRow,
  narCandidates: ReadonlySet<string>,
  cutoff: string,
  dryRun: boolean,
): Promise<{ narsDeleted: number; bytesFreed: number }> {
  if (dryRun) {
    const stillUsed = await narsUsedElsewhere(gc.db, cache.id, [...narCandidates]);
    const sizes = new Map((await orphanNars(gc.db, cutoff)).map((o) => [o.file, o.fileSize]));
    for (const file of narCandidates) if (!stillUsed.has(file)) sizes.set(file, sizes.get(file) ?? 0);
    return { narsDeleted: sizes.size, bytesFreed: [...sizes.values()].reduce((a, b) => a + b, 0) };
  }
  const keys: string[] = [];
  let bytesFreed = 0;
  for (const orphan of await orphanNars(gc.db, cutoff)) {
    const gone = await deleteOrphanNar(gc.db, orphan.file, cutoff);
    if (gone) {
      keys.push(gone.storageKey);
      bytesFreed += gone.fileSize;
    }
  }
  await gc.storage.delete(keys);
  return { narsDeleted: keys.length, bytesFreed };
}

export async function collectGarbage(gc: GcContext, cache: CacheRow, options: GcOptions): Promise<GcReport> {
  const now = nowIso();
  const cutoff = new Date(Date.now() - (options.graceSeconds ?? gc.graceSeconds) * 1000).toISOString();
  const rows = await gcPaths(gc.db, cache.id);
  const graph = new PathGraph(rows);
  const roots = await rootsOf(gc, cache, now);
  const live = markLive(graph, roots, cutoff);
  const { deleted, survivors, narCandidates } = await sweepPaths(gc, cache, graph, live, cutoff, options.dryRun);
  if (!options.dryRun)
    await gc.pathsChanged(
      cache,
      deleted.map((d) => storeHashOf(d.storePath)),
    );
  const nars = await sweepNars(gc, cache, narCandidates, cutoff, options.dryRun);
  const kept = rows
    .filter((r) => live.has(r.store_hash) || survivors.has(r.store_hash))
    .map((r) => ({ storePath: r.store_path, reason: live.get(r.store_hash) ?? 'touched by an upload during GC', narSize: r.nar_size }));
  return {
    cache: cache.name,
    dryRun: options.dryRun,
    kept,
    deleted,
    ...nars,
    at: now,
    pins: roots.flatMap((p) => (isStorePath(p.storePath) ? [{ storePath: p.storePath, reason: p.reason, expiresAt: p.expiresAt }] : [])),
  };
}
