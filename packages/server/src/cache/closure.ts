/**
 * A store path's closure as a built-in cache knows it: the narinfos'
 * References followed breadth first, one query per 500 paths of each level.
 * Only a complete closure counts: a path the cache lacks, or a closure past
 * `maxPaths`, answers null (the agent computes the diff instead).
 */
import type { Kysely } from 'kysely';
import type { ClosurePath, StorePath } from '@drover/protocol';
import { storeHashOf } from '@drover/nix';
import type { Database } from '../db/schema.js';
import { closureRows } from './paths-repository.js';

/** Larger closures are left to the agent (a NixOS system has a few thousand paths). */
const MAX_CLOSURE_PATHS = 50_000;

export async function cachedClosure(db: Kysely<Database>, cacheId: string, path: StorePath, maxPaths = MAX_CLOSURE_PATHS): Promise<ClosurePath[] | null> {
  const seen = new Set<string>([storeHashOf(path)]);
  const closure: ClosurePath[] = [];
  for (let level = [...seen]; level.length > 0;) {
    const rows = await closureRows(db, cacheId, level);
    if (rows.length < level.length) return null;
    const next: string[] = [];
    for (const row of rows) {
      closure.push({ path: row.store_path, narSize: row.nar_size });
      for (const ref of row.refs.split(' ')) {
        if (ref === '') continue;
        const hash = storeHashOf(ref);
        if (seen.has(hash)) continue;
        seen.add(hash);
        next.push(hash);
      }
    }
    if (seen.size > maxPaths) return null;
    level = next;
  }
  return closure;
}
