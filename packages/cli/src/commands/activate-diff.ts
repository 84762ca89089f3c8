/**
 * What `drover activate`'s summary says a deployment changes: one short
 * line per agent from its closure diff (`+3 −1 ~12 packages, +14.2 MiB`),
 * or nothing when no diff was computed. `--json` carries the whole diff in
 * each deployment's `diff`.
 */
import { diffSummary, type Deployment } from '@drover/protocol';

/** `; changes: +3 −1 ~12 packages, +14.2 MiB` to end a summary line with, or '' without a diff. */
export function diffSuffix(d: Deployment | undefined): string {
  return d?.diff ? `; changes: ${diffSummary(d.diff)}` : '';
}
