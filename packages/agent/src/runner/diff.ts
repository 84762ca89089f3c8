/**
 * The agent's closure diff, when the server could not compute one (the
 * order says `wantDiff`): after substitution both closures are in the local
 * store, so `nix path-info -r --json` of the path active now and of the new
 * one give every path with its NAR size. The diff goes to the journal as a
 * `deployment.diff` entry, and one line of the log says it in short. A diff
 * that cannot be computed is only logged: it never fails a deployment.
 */
import { closureCommand, parseClosure, runCommand } from '@drover/nix';
import { diffClosures, diffSummary, type StorePath } from '@drover/protocol';
import type { Journal } from './journal.js';

async function closureOf(path: StorePath): Promise<ReturnType<typeof parseClosure>> {
  const result = await runCommand(closureCommand(path), { captureStdout: true });
  return result.code === 0 ? parseClosure(result.stdout) : null;
}

/** Diffs `to` against `from` (null: nothing active, everything is added) and journals the diff. */
export async function reportDiff(journal: Journal, from: StorePath | null, to: StorePath): Promise<void> {
  const toClosure = await closureOf(to);
  const fromClosure = from === null ? null : await closureOf(from);
  if (!toClosure || (from !== null && !fromClosure)) {
    journal.say(`no closure diff: nix path-info could not list the closure of ${toClosure ? from : to}`);
    return;
  }
  const diff = diffClosures({ from, to, source: 'agent', fromClosure, toClosure });
  journal.diff(diff);
  journal.say(`changes against ${from ?? 'nothing (first deployment)'}: ${diffSummary(diff)}`);
}
