/**
 * How the agent starts a deployment runner: under systemd, in a transient
 * scope of its own (`systemd-run --scope --unit=drover-deployment-<id>`),
 * so the runner is outside the agent unit's cgroup and neither a restart nor
 * a stop of that unit kills it — whatever its KillMode. A NixOS switch
 * restarts the agent's unit while the runner is still activating; with the
 * default `KillMode=control-group` a runner inside the unit's cgroup would
 * die with it.
 *
 * A scope (not a transient service) because the runner stays the agent's
 * child: it inherits its environment (the token never goes over D-Bus into
 * unit properties), its stdout/stderr (runner.log) and its PID (systemd-run
 * execs the runner once the scope exists).
 *
 * "Under systemd" is a service's `INVOCATION_ID` with systemd as the init
 * system (`/run/systemd/system`, as sd_booted(3) checks); an agent that is
 * not root (a user unit, e.g. Home Manager's) asks its user manager
 * (`systemd-run --user`). Elsewhere, with
 * `--runner-scope off`, or when systemd-run is missing or fails (e.g. a
 * non-root agent may not create scopes), the runner starts directly, as a
 * detached child in the agent's own cgroup, and one warning says what that
 * means for the unit's KillMode.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Logger } from 'pino';

/** `auto`: a scope of its own under systemd; `off`: always in the agent's own cgroup. */
export type RunnerScopeMode = 'auto' | 'off';

export const RUNNER_SCOPE_MODES: readonly RunnerScopeMode[] = ['auto', 'off'];

/** What to spawn for one runner. `scope` is the unit name when it goes through systemd-run. */
export interface RunnerLaunch {
  readonly file: string;
  readonly args: readonly string[];
  readonly scope: string | null;
}

/** Where systemd-run is looked for besides PATH (NixOS, then the usual). */
const WELL_KNOWN_DIRS = ['/run/current-system/sw/bin', '/usr/bin', '/bin'];

/** The exit code of systemd-run when it could not create the scope (it never ran the runner). */
const SYSTEMD_RUN_FAILED = 1;

/** The scope's unit name: `drover-deployment-<id>.scope`, characters outside a unit name's set replaced. */
export function scopeUnitName(deploymentId: string): string {
  return `drover-deployment-${deploymentId.replace(/[^A-Za-z0-9:_.-]/g, '_')}.scope`;
}

/**
 * The command line for `argv` (the runner's program and arguments): as it
 * is, or run by `systemdRun` in its own scope of the system manager, or of
 * the user's manager (`--user`) for an agent that is not root.
 */
export function runnerCommand(
  argv: readonly [string, ...string[]],
  deploymentId: string,
  systemdRun: string | null,
  manager: 'system' | 'user' = 'system',
): RunnerLaunch {
  const [file, ...args] = argv;
  if (systemdRun === null) return { file, args, scope: null };
  const scope = scopeUnitName(deploymentId);
  return {
    file: systemdRun,
    args: [
      ...(manager === 'user' ? ['--user'] : []),
      '--scope',
      '--quiet',
      '--collect',
      `--unit=${scope}`,
      `--description=Drover deployment ${deploymentId}`,
      '--',
      file,
      ...args,
    ],
    scope,
  };
}

/** Is this process a systemd service (its `INVOCATION_ID` set, systemd the init system)? */
export function underSystemd(env: NodeJS.ProcessEnv, exists: (path: string) => boolean = existsSync): boolean {
  return Boolean(env['INVOCATION_ID']) && exists('/run/systemd/system');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable systemd-run on PATH or in the well-known directories, or null. */
export function findSystemdRun(env: NodeJS.ProcessEnv, executable: (path: string) => boolean = isExecutable): string | null {
  const dirs = [...(env['PATH'] ?? '').split(delimiter).filter((d) => d.startsWith('/')), ...WELL_KNOWN_DIRS];
  return dirs.map((d) => join(d, 'systemd-run')).find(executable) ?? null;
}

/** The last non-empty line of a runner.log (what systemd-run said when it failed), bounded. */
function lastLine(file: string): string {
  try {
    const text = readFileSync(file, 'utf8').slice(-4096);
    return text.trimEnd().split('\n').at(-1)?.trim() ?? '';
  } catch {
    return '';
  }
}

/** How the system is looked at (tests pass their own). */
interface SystemProbe {
  readonly exists: (path: string) => boolean;
  readonly executable: (path: string) => boolean;
  readonly uid: number | undefined;
}

/** Chooses each runner's command line; falls back to direct starts for good once systemd-run fails. */
export class RunnerLauncher {
  private systemdRun: string | null = null;
  private readonly manager: 'system' | 'user';

  constructor(
    mode: RunnerScopeMode,
    private readonly log: Logger,
    env: NodeJS.ProcessEnv = process.env,
    probe: SystemProbe = { exists: existsSync, executable: isExecutable, uid: process.getuid?.() },
  ) {
    // Only root may create scopes of the system manager; anyone else gets one of its own user manager.
    this.manager = probe.uid === 0 ? 'system' : 'user';
    if (mode === 'off' || !underSystemd(env, probe.exists)) return;
    this.systemdRun = findSystemdRun(env, probe.executable);
    if (this.systemdRun === null) {
      log.warn(
        "running under systemd but systemd-run is not on PATH: deployment runners start in the agent unit's cgroup, so a restart or stop of the unit stops them unless it has KillMode=process",
      );
    }
  }

  /** How runners are started now, for the start-up log line. */
  get mode(): 'scope' | 'direct' {
    return this.systemdRun === null ? 'direct' : 'scope';
  }

  command(argv: readonly [string, ...string[]], deploymentId: string): RunnerLaunch {
    return runnerCommand(argv, deploymentId, this.systemdRun, this.manager);
  }

  /**
   * After a launch's process exited: was it systemd-run failing before the
   * runner ever ran (exit code 1, no runner.pid written)? Then it warns
   * once, starts every later runner directly, and the caller starts this
   * one again directly.
   */
  fellBack(launch: RunnerLaunch, code: number | null, pidFile: string, logFile: string): boolean {
    if (launch.scope === null || code !== SYSTEMD_RUN_FAILED || existsSync(pidFile)) return false;
    this.systemdRun = null;
    this.log.warn(
      { scope: launch.scope, systemdRun: launch.file, said: lastLine(logFile) },
      "systemd-run could not start the deployment in a scope of its own; starting it, and later ones, in the agent unit's cgroup (a restart or stop of the unit stops them unless it has KillMode=process)",
    );
    return true;
  }
}
