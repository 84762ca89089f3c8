/**
 * Dry runs (`POST …/activate?dry=true`, `drover activate --dry`) and how
 * they live beside real deployments. A dry run is a deployment row with
 * `dry = 1`; the agent fetches the closure and runs the profile's dry
 * activation, nothing is switched. The rules (repository.ts keeps them):
 *
 * - a dry run never supersedes a real deployment and is never superseded by
 *   one (a newer dry run supersedes an older Pending dry run, as real ones do);
 * - it takes the agent's next index but never becomes its latest
 *   (`agents.last_index`), so the agents list, "behind" and the fleet counts
 *   ignore it;
 * - its outcome never changes the agent's current store path;
 * - once finished it keeps no cache path alive (GC roots), and a re-run of
 *   a dry run is a dry run.
 *
 * Its finding, the units a switch would stop/reload/restart/start, arrives
 * in a `deployment.would-restart` frame and is stored as JSON here.
 */
import { decodeWouldRestart, type WouldRestart } from '@drover/protocol';

/** The stored JSON of the unit lists, or null. */
export function storedWouldRestart(units: WouldRestart | null): string | null {
  return units === null ? null : JSON.stringify(units);
}

/** The unit lists as stored, or null (none stored, or unreadable). */
export function parseWouldRestart(text: string | null): WouldRestart | null {
  if (text === null) return null;
  try {
    return decodeWouldRestart(JSON.parse(text));
  } catch {
    return null;
  }
}
