/**
 * The agent's start-up self-checks: what it needs from the machine it runs
 * on, each failure said as what is wrong and how to fix it.
 *
 * Two kinds of problem. The state directory is where every order and outcome
 * is journaled: without it the agent can do nothing, so that check stops the
 * agent (`drover agent` exits with EXIT_SETUP). Nix on PATH (at least
 * MIN_NIX_VERSION) and a writable profile directory are needed only to
 * deploy: the agent stays connected, tells the server in its hello (the UI
 * and API show "cannot deploy: …"), and fails each deployment at once with
 * the reason — checked again at every connection and every deployment, so a
 * fix is picked up without a restart.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { lockPathFor } from './runner/lock.js';

/** Exit status of `drover agent` when its environment is unusable (sysexits EX_CONFIG), so a service manager can tell it from a crash. */
export const EXIT_SETUP = 78;

/**
 * The oldest Nix the agent is tested with: Debian 12's nix-bin 2.8, on
 * which the commands it runs (`nix-store --realise`, `nix-env -p … --set`,
 * `nix path-info --closure-size --json` with `--extra-experimental-features`)
 * behave as the runner expects.
 */
const MIN_NIX_VERSION = '2.8';

/** The Nix programs the deployment runner runs. */
const NIX_PROGRAMS = ['nix', 'nix-store', 'nix-env'] as const;

function errText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = 'code' in err && typeof err.code === 'string' ? err.code : null;
  return code ? `${code}: ${err.message.replace(/^[A-Z]+: /, '')}` : err.message;
}

/** Creates and removes a probe file in `dir`, creating `dir` first; throws what the filesystem said. */
function probeWrite(dir: string, probe: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(probe, '', { mode: 0o600 });
  unlinkSync(probe);
}

/** The fatal check: null when the state directory can be created and written. */
export function checkStateDir(stateDir: string, explicit: boolean): string | null {
  try {
    probeWrite(stateDir, join(stateDir, `.drover-check.${process.pid}`));
    return null;
  } catch (err) {
    const fix = explicit
      ? 'pass a --state-dir this user can write, or fix its permissions'
      : 'it is the default for this user (root: /var/lib/drover-agent/NAME, others: $XDG_STATE_HOME or $HOME/.local/state); pass --state-dir DIR that this user can write';
    return `cannot write the agent's state directory ${stateDir} (${errText(err)}): ${fix}`;
  }
}

/** The first executable called `program` on PATH, or null. */
function onPath(program: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** -1, 0 or 1 as dotted version `a` is older than, equal to or newer than `b`. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Nix's programs on PATH and new enough: null, or what is wrong. */
export function checkNix(): string | null {
  const missing = NIX_PROGRAMS.filter((p) => onPath(p) === null);
  if (missing.length > 0) {
    return `Nix is not on PATH (${missing.join(', ')} not found in PATH=${process.env['PATH'] ?? ''}): install Nix ${MIN_NIX_VERSION} or newer, or start the agent with Nix's bin directory on PATH (e.g. /nix/var/nix/profiles/default/bin)`;
  }
  let out: string;
  try {
    out = execFileSync('nix', ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return `\`nix --version\` failed (${errText(err)}): check the Nix installation on this machine`;
  }
  const version = /(\d+\.\d+(?:\.\d+)?)/.exec(out)?.[1];
  if (!version)
    return `cannot read the Nix version from \`nix --version\` (${JSON.stringify(out.trim().slice(0, 80))}): install Nix ${MIN_NIX_VERSION} or newer`;
  if (compareVersions(version, MIN_NIX_VERSION) < 0) return `Nix ${version} is older than ${MIN_NIX_VERSION}, the oldest the agent supports: upgrade Nix`;
  return null;
}

/** The profile's directory can hold the profile's generations and its lock file: null, or what is wrong. */
export function checkProfileDir(profilePath: string): string | null {
  const dir = dirname(profilePath);
  try {
    probeWrite(dir, `${lockPathFor(profilePath)}.${process.pid}.check`);
    return null;
  } catch (err) {
    return `cannot write the profile's directory ${dir} (${errText(err)}), where the profile ${profilePath} and its lock live: run the agent as root, or pass --profile PATH in a directory this user can write (e.g. $HOME/.local/state/nix/profiles/NAME)`;
  }
}

/** Everything that keeps the agent from deploying now (an empty list: it can deploy). */
export function deployProblems(profilePath: string): string[] {
  return [checkNix(), checkProfileDir(profilePath)].filter((p): p is string => p !== null);
}
