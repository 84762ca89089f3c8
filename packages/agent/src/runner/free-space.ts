/**
 * The free-space check before substitution: what `nix-store --realise
 * --dry-run` says the closure will fetch (sizes from the narinfos) against
 * the free space of the filesystem holding /nix/store, less the reserve the
 * agent keeps (`--store-reserve`). Nix streams each NAR into the store, so
 * the unpacked size is what must fit; the download size is reported beside it.
 */
import { statfs } from 'node:fs/promises';
import { formatCommand, parseFetchPlan, runCommand, type Command, type FetchPlan, type OutputStream } from '@drover/nix';
import type { Journal } from './journal.js';

/** Where Nix puts what it fetches. */
const STORE_DIR = '/nix/store';
/** A dry run that takes longer (a hanging cache) is given up on; the substitution then reports. */
const DRY_RUN_TIMEOUT_MS = 120_000;

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
function describePlan(plan: FetchPlan, free: number): string {
  if (plan.paths === 0) return `nothing to fetch; ${mib(free)} free in the store`;
  return `${String(plan.paths)} path${plan.paths === 1 ? '' : 's'} to fetch: ${mib(plan.downloadBytes)} download, ${mib(plan.unpackedBytes)} unpacked; ${mib(free)} free in the store`;
}

/** Stops the deployment before fetching when the closure would not fit the store's free space; logs the plan. */
export async function checkFreeSpace(journal: Journal, dryRun: Command, opts: { cancel: AbortSignal; reserveBytes: number }): Promise<string | null> {
  // Only the summary lines are kept and logged: a system's list of paths runs to thousands.
  journal.line('agent', `$ ${formatCommand(dryRun.argv)}`);
  const summary: string[] = [];
  const onLine = (stream: OutputStream, text: string) => {
    if (!/^\s*\/nix\/store\//.test(text)) journal.line(stream, text);
    if (text.includes('will be fetched')) summary.push(text);
  };
  const plan = await runCommand(dryRun, { onLine, signal: opts.cancel, timeoutMs: DRY_RUN_TIMEOUT_MS });
  if (plan.code !== 0) {
    // The substitution itself will name the problem (an unreachable cache, a missing path).
    journal.say(`could not work out what will be fetched (nix-store --dry-run exited with code ${String(plan.code)}); fetching anyway`);
    return null;
  }
  const fetchPlan = parseFetchPlan(summary);
  let free: number;
  try {
    free = await freeBytes(STORE_DIR);
  } catch (err) {
    journal.say(`cannot read the free space of ${STORE_DIR} (${(err as Error).message}); fetching anyway`);
    return null;
  }
  journal.say(describePlan(fetchPlan, free));
  return spaceProblem(fetchPlan, free, opts.reserveBytes, STORE_DIR);
}
