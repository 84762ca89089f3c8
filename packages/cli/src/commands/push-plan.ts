/**
 * How `drover push` groups the missing paths of a closure into requests:
 * paths in dependency order (references first); small ones (≤ SMALL_NAR)
 * packed into batches, so that the jobs share them evenly (at most
 * MAX_BATCH_PATHS paths or BATCH_NAR_BYTES of NAR each), larger ones one per
 * request. Each unit names the units it waits for: those holding the missing
 * paths its own paths reference. Units are formed in dependency order and a
 * batch takes no paths once a later unit exists, so a unit only ever waits
 * for earlier ones (no cycles).
 */
import type { StorePath } from '@drover/protocol';

/** NARs up to this size go into batches (read into memory and compressed whole). */
const SMALL_NAR = 256 * 1024;
/** Most paths in one batch (the server accepts 256). */
const MAX_BATCH_PATHS = 64;
/** Most NAR bytes (uncompressed) in one batch (the server accepts 16 MiB of compressed files). */
const BATCH_NAR_BYTES = 4 * 1024 * 1024;

export interface PlannedPath {
  readonly path: StorePath;
  readonly narSize: number;
  readonly references: readonly string[];
}

export interface Unit<P extends PlannedPath> {
  /** Never empty: a unit is made with its first path. */
  readonly paths: [P, ...P[]];
  readonly batch: boolean;
  readonly after: Set<Unit<P>>;
}

/** The paths with every path's missing references before it. */
function dependencyOrder<P extends PlannedPath>(paths: readonly P[]): P[] {
  const byPath = new Map(paths.map((p) => [p.path as string, p]));
  const done = new Set<string>();
  const out: P[] = [];
  const visit = (p: P) => {
    if (done.has(p.path)) return;
    done.add(p.path);
    for (const r of p.references) {
      const dep = byPath.get(r);
      if (dep && dep !== p) visit(dep);
    }
    out.push(p);
  };
  for (const p of paths) visit(p);
  return out;
}

export function planUnits<P extends PlannedPath>(paths: readonly P[], jobs: number): Unit<P>[] {
  const ordered = dependencyOrder(paths);
  const small = ordered.filter((p) => p.narSize <= SMALL_NAR).length;
  const perBatch = Math.max(1, Math.min(MAX_BATCH_PATHS, Math.ceil(small / jobs)));
  const units: Unit<P>[] = [];
  const unitOf = new Map<string, Unit<P>>();
  let open: { unit: Unit<P>; bytes: number } | null = null;
  for (const p of ordered) {
    const batch = p.narSize <= SMALL_NAR;
    if (batch && open && (open.unit.paths.length >= perBatch || open.bytes + p.narSize > BATCH_NAR_BYTES)) open = null;
    let unit: Unit<P>;
    if (batch && open) {
      unit = open.unit;
      unit.paths.push(p);
      open.bytes += p.narSize;
    } else {
      unit = { paths: [p], batch, after: new Set() };
      units.push(unit);
      // A new unit closes the open batch: a later path joining it could wait for this unit, which may wait for the batch.
      open = batch ? { unit, bytes: p.narSize } : null;
    }
    unitOf.set(p.path, unit);
    for (const r of p.references) {
      const dep = unitOf.get(r);
      if (dep && dep !== unit) unit.after.add(dep);
    }
  }
  return units;
}
