/**
 * The free-space check before substitution: what `nix-store --realise
 * --dry-run` says the closure will fetch (sizes from the narinfos) against
 * the free space of the filesystem holding /nix/store, less the reserve the
 * agent keeps (`--store-reserve`). Nix streams each NAR into the store, so
 * the unpacked size is what must fit; the download size is reported beside it.
 */
import { statfs } from 'node:fs/promises';
import type { FetchPlan } from '@drover/nix';

const MIB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;

/** Free bytes on the filesystem of `dir`: `bavail`, what is left without eating into the root-only reserve. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** Null when the plan fits, else the reason the deployment stops. */
export function spaceProblem(plan: FetchPlan, free: number, reserve: number, storeDir: string): string | null {
  if (plan.paths === 0 && reserve === 0) return null;
  const needed = plan.unpackedBytes + reserve;
  if (needed <= free) return null;
  const fetch =
    plan.paths === 0
      ? 'nothing to fetch'
      : `${String(plan.paths)} path${plan.paths === 1 ? '' : 's'} to fetch (${mib(plan.downloadBytes)} download, ${mib(plan.unpackedBytes)} unpacked)`;
  const keep = reserve > 0 ? ` and the agent keeps ${mib(reserve)} free (--store-reserve)` : '';
  return `not enough space on the filesystem of ${storeDir}: ${fetch}${keep}, but only ${mib(free)} is free; free some space (nix-collect-garbage) or lower --store-reserve`;
}

/** Summary of the plan for the log. */
export function describePlan(plan: FetchPlan, free: number): string {
  if (plan.paths === 0) return `nothing to fetch; ${mib(free)} free in the store`;
  return `${String(plan.paths)} path${plan.paths === 1 ? '' : 's'} to fetch: ${mib(plan.downloadBytes)} download, ${mib(plan.unpackedBytes)} unpacked; ${mib(free)} free in the store`;
}
