/**
 * The rules of cache GC, without a database: which store paths are roots
 * (and why), which narinfos they keep alive through their references, and
 * in which order the rest may be deleted. gc.ts reads the rows, calls these
 * and deletes.
 */
import { storeHashOf } from '@drover/nix';
import type { DeployedPaths } from '../deployments/repository.js';
import type { GcPathRow } from './paths-repository.js';

/** A store path GC keeps, with its closure, and why. */
export interface Root {
  readonly storePath: string;
  readonly reason: string;
  readonly expiresAt: string | null;
}

/**
 * Roots from what agents run: each agent's current path, every pending or
 * running deployment, and each agent's last `keep` successful ones — each
 * with its rollbackScript. `deployments` come by agent, newest first.
 */
export function deploymentRoots(current: readonly { agent: string; storePath: string }[], deployments: readonly DeployedPaths[], keep: number): Root[] {
  const out: Root[] = current.map((a) => ({ storePath: a.storePath, reason: `deployed on agent ${a.agent}`, expiresAt: null }));
  const succeeded = new Map<string, number>();
  for (const d of deployments) {
    let reason: string;
    if (d.status === 'Succeeded') {
      const n = (succeeded.get(d.agent) ?? 0) + 1;
      succeeded.set(d.agent, n);
      if (n > keep) continue;
      reason = `deployment #${d.index} of agent ${d.agent} (one of its last ${keep} successful)`;
    } else {
      reason = `${d.status} deployment #${d.index} of agent ${d.agent}`;
    }
    out.push({ storePath: d.storePath, reason, expiresAt: null });
    if (d.rollbackScript) out.push({ storePath: d.rollbackScript, reason: `rollbackScript of ${reason}`, expiresAt: null });
  }
  return out;
}

/** The narinfos of one cache as a graph over their store hashes. */
export class PathGraph {
  readonly byHash: ReadonlyMap<string, GcPathRow>;

  constructor(rows: readonly GcPathRow[]) {
    this.byHash = new Map(rows.map((r) => [r.store_hash, r]));
  }

  /** The hashes a path references (itself excluded). */
  refsOf(hash: string): string[] {
    return (this.byHash.get(hash)?.refs ?? '')
      .split(' ')
      .filter((x) => x !== '')
      .map(storeHashOf)
      .filter((h) => h !== hash);
  }

  /** `hash` and everything it references, transitively, that the cache holds. */
  closureOf(hash: string): Set<string> {
    const seen = new Set<string>();
    const queue = [hash];
    for (let h = queue.pop(); h !== undefined; h = queue.pop()) {
      if (seen.has(h) || !this.byHash.has(h)) continue;
      seen.add(h);
      queue.push(...this.refsOf(h));
    }
    return seen;
  }
}

/**
 * Why each live path is kept: a root held by the cache (same store path, not
 * only the same hash), a path touched since `cutoff`, or being in the
 * closure of one of those. The first reason found wins.
 */
export function markLive(graph: PathGraph, roots: readonly Root[], cutoff: string): Map<string, string> {
  const why = new Map<string, string>();
  const queue: GcPathRow[] = [];
  const mark = (hash: string, reason: string) => {
    const row = graph.byHash.get(hash);
    if (why.has(hash) || !row) return;
    why.set(hash, reason);
    queue.push(row);
  };
  for (const root of roots) {
    const hash = storeHashOf(root.storePath);
    if (graph.byHash.get(hash)?.store_path === root.storePath) mark(hash, root.reason);
  }
  for (const r of graph.byHash.values()) if (r.touched_at >= cutoff) mark(r.store_hash, `younger than the grace period (pushed or used at ${r.touched_at})`);
  // Breadth first (the queue grows while it is read), so each reason names a nearest root.
  for (const row of queue) for (const ref of graph.refsOf(row.store_hash)) mark(ref, `in the closure of ${row.store_path}`);
  return why;
}

/** The paths not kept, referrers before their references: a path that survives (an upload touched it meanwhile) can keep its closure. */
export function deletionOrder(graph: PathGraph, live: ReadonlyMap<string, string>): string[] {
  const dead = new Set([...graph.byHash.keys()].filter((h) => !live.has(h)));
  const order: string[] = [];
  const visited = new Set<string>();
  const visit = (hash: string) => {
    if (visited.has(hash)) return;
    visited.add(hash);
    for (const ref of graph.refsOf(hash)) if (dead.has(ref)) visit(ref);
    order.push(hash);
  };
  for (const hash of dead) visit(hash);
  return order.reverse();
}
