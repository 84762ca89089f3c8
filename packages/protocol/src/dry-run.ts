/**
 * Dry runs (`drover activate --dry`): what a dry activation says would
 * happen to the machine's systemd units, as the agent reports it and the
 * API shows it (`Deployment.wouldRestart`). TypeBox-free: the CLI and the
 * web UI format it with `describeWouldRestart`.
 */
import { array, object, string } from './decode.js';

/** The four things a NixOS switch does to units, in the order switch-to-configuration does them. */
export const UNIT_ACTIONS = ['stop', 'reload', 'restart', 'start'] as const;
export type UnitAction = (typeof UNIT_ACTIONS)[number];

/**
 * The units a dry activation says a switch would stop, reload, restart or
 * start (names sorted, each once). `systemd` in `restart` stands for the
 * re-exec of systemd itself ("would restart systemd").
 */
export type WouldRestart = Record<UnitAction, string[]>;

export const decodeWouldRestart = object({ restart: array(string), start: array(string), stop: array(string), reload: array(string) });

/** Most units one list holds (a frame stays far below its size limit); longer lists are cut. */
export const MAX_DRY_RUN_UNITS = 2000;

/** "would restart a, b; start c" — or that nothing would change (no unit named). */
export function describeWouldRestart(units: WouldRestart): string {
  const parts = UNIT_ACTIONS.filter((action) => units[action].length > 0).map((action) => `${action} ${units[action].join(', ')}`);
  return parts.length === 0 ? 'no unit would be stopped, reloaded, restarted or started' : `would ${parts.join('; ')}`;
}
