/**
 * Closure-aware garbage collection with deployment pins.
 *
 * A path is live while it is reachable, following References, from a root:
 * an agent's current store path, its last N successful deployments, any
 * pending or running deployment (path and rollbackScript), an explicit pin,
 * or a path younger than the grace period. Everything else is deleted,
 * referrers before their references; a path an upload touched meanwhile
 * survives and keeps its whole closure. A NAR goes once no narinfo of any
 * cache refers to it and it is older than the grace period.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { parseStorePath, STORE_DIR, type GcReport, type StorePath } from '@drover/protocol';
import { storeHashOf } from '@drover/nix';
import { nowIso } from '../db/time.js';
import type { CacheRow, CacheService } from './service.js';

export interface GcOptions {
  readonly dryRun: boolean;
  readonly graceSeconds?: number | undefined;
}

interface Root {
  readonly storePath: string;
  readonly reason: string;
  readonly expiresAt: string | null;
}

async function roots(svc: CacheService, cache: CacheRow, now: string): Promise<Root[]> {
  const out: Root[] = [];
  const agents = await svc.db.selectFrom('agents').select(['name', 'current_store_path']).where('workspace_id', '=', cache.workspace_id).execute();
  for (const a of agents) if (a.current_store_path) out.push({ storePath: a.current_store_path, reason: `deployed on agent ${a.name}`, expiresAt: null });
  const deployments = await svc.db
    .selectFrom('deployments')
    .innerJoin('agents', 'agents.id', 'deployments.agent_id')
    .select(['agents.name', 'deployments.store_path', 'deployments.rollback_script', 'deployments.status', 'deployments.index_no'])
    .where('deployments.workspace_id', '=', cache.workspace_id)
    .where('deployments.status', 'in', ['Pending', 'InProgress', 'Succeeded'])
    .orderBy('agents.name')
    .orderBy('deployments.index_no', 'desc')
    .execute();
  const succeeded = new Map<string, number>();
  for (const d of deployments) {
    let reason: string;
    if (d.status === 'Succeeded') {
      const n = (succeeded.get(d.name) ?? 0) + 1;
      succeeded.set(d.name, n);
      if (n > svc.keepDeployments) continue;
      reason = `deployment #${d.index_no} of agent ${d.name} (one of its last ${svc.keepDeployments} successful)`;
    } else {
      reason = `${d.status} deployment #${d.index_no} of agent ${d.name}`;
    }
    out.push({ storePath: d.store_path, reason, expiresAt: null });
    if (d.rollback_script) out.push({ storePath: d.rollback_script, reason: `rollbackScript of ${reason}`, expiresAt: null });
  }
  const pins = await svc.db
    .selectFrom('cache_pins')
    .selectAll()
    .where('cache_id', '=', cache.id)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .execute();
  for (const p of pins) out.push({ storePath: p.store_path, reason: p.reason, expiresAt: p.expires_at });
  return out;
}

export async function pinPath(svc: CacheService, cache: CacheRow, storePath: string, keepDays?: number): Promise<void> {
  const path = parseStorePath(storePath);
  const expiresAt = keepDays === undefined ? null : new Date(Date.now() + keepDays * 86_400_000).toISOString();
  await svc.db
    .insertInto('cache_pins')
    .values({ id: randomUUID(), cache_id: cache.id, store_path: path, reason: `pinned${expiresAt ? ` until ${expiresAt}` : ''}`, expires_at: expiresAt, created_at: nowIso() })
    .execute();
}

export async function collectGarbage(svc: CacheService, cache: CacheRow, options: GcOptions): Promise<GcReport> {
  const now = nowIso();
  const cutoff = new Date(Date.now() - (options.graceSeconds ?? svc.graceSeconds) * 1000).toISOString();
  const rows = await svc.db.selectFrom('cache_paths').select(['store_hash', 'store_path', 'refs', 'nar_file', 'nar_size', 'touched_at']).where('cache_id', '=', cache.id).execute();
  const byHash = new Map(rows.map((r) => [r.store_hash, r]));
  const pins = await roots(svc, cache, now);
  const why = new Map<string, string>();
  const queue: string[] = [];
  const mark = (hash: string, reason: string) => {
    if (why.has(hash) || !byHash.has(hash)) return;
    why.set(hash, reason);
    queue.push(hash);
  };
  for (const pin of pins) if (byHash.get(storeHashOf(pin.storePath))?.store_path === pin.storePath) mark(storeHashOf(pin.storePath), pin.reason);
  for (const r of rows) if (r.touched_at >= cutoff) mark(r.store_hash, `younger than the grace period (pushed or used at ${r.touched_at})`);
  const refsOf = (hash: string) => (byHash.get(hash)?.refs ?? '').split(' ').filter((x) => x !== '').map(storeHashOf).filter((h) => h !== hash);
  while (queue.length > 0) {
    const hash = queue.shift()!;
    for (const ref of refsOf(hash)) mark(ref, `in the closure of ${byHash.get(hash)!.store_path}`);
  }
  const dead = rows.filter((r) => !why.has(r.store_hash));

  // Referrers before their references: a path that survives (an upload touched it meanwhile) keeps its closure.
  const order: string[] = [];
  const visited = new Set<string>();
  const deadSet = new Set(dead.map((r) => r.store_hash));
  const visit = (hash: string) => {
    if (visited.has(hash)) return;
    visited.add(hash);
    for (const ref of refsOf(hash)) if (deadSet.has(ref)) visit(ref);
    order.push(hash);
  };
  for (const r of dead) visit(r.store_hash);
  order.reverse();

  const deleted: GcReport['deleted'] = [];
  const survivors = new Set<string>();
  const narCandidates = new Set<string>();
  for (const hash of order) {
    const row = byHash.get(hash)!;
    if (survivors.has(hash)) continue;
    if (!options.dryRun) {
      const res = await svc.db.deleteFrom('cache_paths').where('cache_id', '=', cache.id).where('store_hash', '=', hash).where('touched_at', '<', cutoff).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) {
        const keep = [hash];
        while (keep.length > 0) for (const ref of refsOf(keep.pop()!)) if (!survivors.has(ref)) (survivors.add(ref), keep.push(ref));
        continue;
      }
    }
    deleted.push({ storePath: row.store_path as StorePath, reason: 'not reachable from any pin', narSize: Number(row.nar_size) });
    narCandidates.add(row.nar_file);
  }

  // NARs no narinfo of any cache refers to any more (including uploads whose narinfo never came).
  const orphanQuery = svc.db
    .selectFrom('cache_nars')
    .select(['file', 'file_size'])
    .where('touched_at', '<', cutoff)
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('cache_paths').select(sql<number>`1`.as('one')).whereRef('cache_paths.nar_file', '=', 'cache_nars.file'))));
  let narsDeleted = 0;
  let bytesFreed = 0;
  if (options.dryRun) {
    const stillUsed = new Set((await svc.db.selectFrom('cache_paths').select('nar_file').where('cache_id', '!=', cache.id).where('nar_file', 'in', [...narCandidates, '']).execute()).map((r) => r.nar_file));
    const orphans = await orphanQuery.execute();
    const sizes = new Map(orphans.map((o) => [o.file, Number(o.file_size)]));
    for (const file of narCandidates) if (!stillUsed.has(file)) sizes.set(file, sizes.get(file) ?? 0);
    narsDeleted = sizes.size;
    bytesFreed = [...sizes.values()].reduce((a, b) => a + b, 0);
  } else {
    const keys: string[] = [];
    for (const orphan of await orphanQuery.execute()) {
      const gone = await svc.db
        .deleteFrom('cache_nars')
        .where('file', '=', orphan.file)
        .where('touched_at', '<', cutoff)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('cache_paths').select(sql<number>`1`.as('one')).where('nar_file', '=', orphan.file))))
        .returning(['storage_key', 'file_size'])
        .executeTakeFirst();
      if (gone) {
        keys.push(gone.storage_key);
        narsDeleted++;
        bytesFreed += Number(gone.file_size);
      }
    }
    await svc.storage.delete(keys);
  }
  const kept = rows
    .filter((r) => why.has(r.store_hash) || survivors.has(r.store_hash))
    .map((r) => ({ storePath: r.store_path as StorePath, reason: why.get(r.store_hash) ?? 'touched by an upload during GC', narSize: Number(r.nar_size) }));
  return {
    cache: cache.name,
    dryRun: options.dryRun,
    kept,
    deleted,
    narsDeleted,
    bytesFreed,
    at: now,
    pins: pins.filter((p) => p.storePath.startsWith(`${STORE_DIR}/`)).map((p) => ({ storePath: p.storePath as StorePath, reason: p.reason, expiresAt: p.expiresAt })),
  };
}
