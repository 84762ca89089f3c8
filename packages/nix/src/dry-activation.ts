/**
 * Dry activation (`drover activate --dry`): the command that asks a
 * profile what switching to a store path would do, without doing it, and
 * the reading of NixOS's answer.
 *
 * - NixOS: `switch-to-configuration dry-activate` prints (on stderr) lines
 *   like `would stop the following units: a.service, b.service`, `would
 *   restart systemd`, `would reload the following units: …`, `would restart
 *   the following units: …`, `would start the following units: …` — the
 *   Perl script and switch-to-configuration-ng word them alike, the
 *   activation script's requests add `… as well: …` lines.
 * - home-manager: its `activate` with `DRY_RUN=1` prints what it would do.
 * - nix-darwin and plain profiles have no dry activation: null (only the
 *   closure diff tells what would change).
 */
import { join } from 'node:path';
import { MAX_DRY_RUN_UNITS, type StorePath, type UnitAction, type WouldRestart } from '@drover/protocol/light';
import type { Command } from './command.js';
import type { ProfileType } from './profile.js';

/** The dry activation of `storePath`, or null when its profile type has none. Never touches the profile. */
export function dryActivationCommand(type: ProfileType, storePath: StorePath): Command | null {
  switch (type) {
    case 'nixos':
      return { argv: [join(storePath, 'bin/switch-to-configuration'), 'dry-activate'] };
    case 'home-manager':
      return { argv: [join(storePath, 'activate')], env: { DRY_RUN: '1' } };
    case 'nix-darwin':
    case 'plain':
      return null;
  }
}

// "would stop the following units: a, b" / "… units as well: …"; ANSI colours and log prefixes before "would" are allowed.
const UNITS_LINE = /\bwould (stop|reload|restart|start) the following units(?: as well)?: (.+)$/;
const RESTART_SYSTEMD = /\bwould restart systemd\s*$/;
// eslint-disable-next-line no-control-regex -- ANSI colour codes are what is removed
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

/**
 * Collects what `switch-to-configuration dry-activate` printed into unit
 * lists (each sorted, each name once). "would NOT stop/restart the
 * following changed units" names units a switch leaves alone: not listed.
 * `systemd` in `restart` stands for "would restart systemd".
 */
export function parseDryActivation(lines: Iterable<string>): WouldRestart {
  const found: Record<UnitAction, Set<string>> = { restart: new Set(), start: new Set(), stop: new Set(), reload: new Set() };
  for (const raw of lines) {
    const line = raw.replace(ANSI, '').trimEnd();
    if (RESTART_SYSTEMD.test(line)) {
      found.restart.add('systemd');
      continue;
    }
    const m = UNITS_LINE.exec(line);
    if (!m) continue;
    const action = m[1] as UnitAction;
    for (const unit of (m[2] ?? '').split(',')) {
      const name = unit.trim();
      if (name !== '') found[action].add(name);
    }
  }
  const list = (action: UnitAction) => [...found[action]].sort().slice(0, MAX_DRY_RUN_UNITS);
  return { restart: list('restart'), start: list('start'), stop: list('stop'), reload: list('reload') };
}
