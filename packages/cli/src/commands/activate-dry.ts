/**
 * `drover activate --dry` (and `drover deploy --dry`): what activate does
 * differently for dry runs — asks the server for them (`?dry=true`), says
 * so, and sums each agent up by the units its dry activation says a switch
 * would stop, reload, restart or start. `--json` carries the same in each
 * deployment's `dry` and `wouldRestart`.
 */
import { describeWouldRestart, formatDuration, type Deployment } from '@drover/protocol';

export interface DryFlags {
  /** --dry: the agents fetch and run the profile's dry activation; nothing is switched. */
  dry?: boolean;
}

/** The /activate path with `dry=true` added for --dry. */
export function withDryQuery(path: string, flags: DryFlags): string {
  if (!flags.dry) return path;
  return `${path}${path.includes('?') ? '&' : '?'}dry=true`;
}

/** The line activate prints under its header for --dry (null: not a dry run). */
export function dryNotice(flags: DryFlags): string | null {
  return flags.dry ? 'Dry run: the agents fetch the closures and ask their profiles what a switch would do; nothing is switched' : null;
}

/** A dry run's summary line (null: not a dry run, or not finished as one: the usual line). */
export function drySummaryLine(d: Deployment | undefined): string | null {
  if (!d?.dry) return null;
  const took = d.startedAt && d.finishedAt ? ` in ${formatDuration(Date.parse(d.finishedAt) - Date.parse(d.startedAt))}` : '';
  if (d.status === 'Failed') return `Dry run failed (#${d.index}${took}): ${d.reason?.replace(/^dry run failed: /, '') ?? 'no reason given'}`;
  if (d.status !== 'Succeeded') return null;
  const found = d.wouldRestart
    ? describeWouldRestart(d.wouldRestart)
    : (d.reason?.replace(/^dry run, nothing was switched: /, '') ?? 'only the closure diff is known');
  return `Dry run completed (#${d.index}${took}), nothing switched: ${found}`;
}
