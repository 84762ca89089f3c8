/**
 * A real systemd for end-to-end tests: a container whose PID 1 is Debian
 * bookworm's systemd, booted with `systemd-nspawn --boot` from the cached
 * root filesystem scripts/setup-systemd.sh builds outside the checkout,
 * driven from the host with `nsenter`, halted and cleaned up after. Every
 * step is bounded in time, and the container lives at most `lifetimeMs`
 * even if the test process dies (`timeout` around nspawn).
 *
 * It shares the host's network namespace (a server on the host's 127.0.0.1
 * is reachable from inside); its root is a volatile overlay (writes go to a
 * tmpfs, the cached root filesystem stays pristine); nspawn runs in a cgroup
 * of its own, so cleanup kills exactly what is left and removes it.
 * `--register=no --keep-unit` because there is no systemd on the host to
 * register with.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, run, sleep, waitFor, type RunResult } from '@drover/test-support';

/** A host path mounted into the container (at the same path unless `target`). */
export interface Bind {
  readonly source: string;
  readonly target?: string;
  readonly readOnly?: boolean;
}

const CGROUP2_MAGIC = 0x63677270;
/** The PATH commands run with inside the container. */
const CONTAINER_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The cgroup hierarchies nspawn puts the container in: the unified one, and the named systemd one on a hybrid host. */
function cgroupRoots(): string[] {
  if (statfsSync('/sys/fs/cgroup').type === CGROUP2_MAGIC) return ['/sys/fs/cgroup'];
  return ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd'].filter((d) => existsSync(d));
}

function onPath(program: string): boolean {
  return (process.env['PATH'] ?? '').split(':').some((dir) => dir.startsWith('/') && existsSync(join(dir, program)));
}

/**
 * The cached root filesystem (built now by scripts/setup-systemd.sh
 * --no-install if missing), or the one-line reason the real-systemd tests
 * skip: not root, no systemd-nspawn, no root filesystem. With CI=true a
 * reason throws instead: scripts/test.sh installs and builds all of it.
 */
export async function systemdRootfs(): Promise<{ rootfs: string; skip: false } | { rootfs: undefined; skip: string }> {
  let skip: string;
  if (process.getuid?.() !== 0) skip = 'the real-systemd tests need root (systemd-nspawn): skipped';
  else if (!onPath('systemd-nspawn')) skip = 'systemd-nspawn is not installed (bash scripts/setup-systemd.sh installs it): real-systemd tests skipped';
  else {
    const res = await run('bash', [join(repoRoot(), 'scripts', 'setup-systemd.sh'), '--no-install'], { timeoutMs: 20 * 60_000 });
    const rootfs = res.stdout.trim().split('\n').at(-1) ?? '';
    if (res.code === 0 && existsSync(join(rootfs, 'lib/systemd/systemd'))) return { rootfs, skip: false };
    skip = `no root filesystem for systemd-nspawn (${res.stderr.trim().split('\n').at(-1) ?? `exit ${res.code}`}): real-systemd tests skipped`;
  }
  if (process.env['CI'] === 'true') throw new Error(`${skip} (but CI=true: scripts/test.sh must provide it)`);
  return { rootfs: undefined, skip };
}

/** The child processes of `pid` (from /proc), with their command names. */
function children(pid: number): { pid: number; comm: string }[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(/\s+/)
      .filter(Boolean)
      .map((p) => ({ pid: Number(p), comm: readFileSync(`/proc/${p}/comm`, 'utf8').trim() }));
  } catch {
    return [];
  }
}

/** Sends a signal to a process that may have ended already. */
function signal(pid: number, name: NodeJS.Signals): void {
  if (pid <= 0) return;
  try {
    process.kill(pid, name);
  } catch {
    /* already gone */
  }
}

/** Every PID in a cgroup and the cgroups below it. */
function cgroupPids(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const here = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  const below = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
  return [...here, ...below.flatMap((e) => cgroupPids(join(dir, e.name)))];
}

/** Removes a cgroup tree, deepest first. */
function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroup(join(dir, e.name));
  rmdirSync(dir);
}

export class Container {
  private output = '';
  private exited = false;
  private leaderPid = 0;
  private nspawnPid = 0;

  private constructor(
    readonly machine: string,
    private readonly cgroups: readonly string[],
    private readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString('utf8')).slice(-32_768));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('exit', () => (this.exited = true));
  }

  /** Boots a container; it is halted after `lifetimeMs` at the latest. Throws (after cleaning up) if systemd is not up within `bootTimeoutMs`. */
  static async boot(opts: { rootfs: string; binds: readonly Bind[]; lifetimeMs: number; bootTimeoutMs?: number }): Promise<Container> {
    const machine = `drover-${randomBytes(4).toString('hex')}`;
    const cgroups = cgroupRoots().map((root) => join(root, machine));
    for (const dir of cgroups) mkdirSync(dir);
    const binds = opts.binds.map((b) => `--bind${b.readOnly ? '-ro' : ''}=${b.source}${b.target ? `:${b.target}` : ''}`);
    const nspawn = ['systemd-nspawn', '--quiet', '-D', opts.rootfs, '-M', machine, '--boot', '--register=no', '--keep-unit'];
    const args = [...nspawn, '--console=read-only', '--volatile=overlay', ...binds];
    // sh moves itself into our cgroups, then becomes `timeout`, whose child is nspawn, whose child is the container's systemd.
    const enter = 'for d in $DROVER_CGROUPS; do echo $$ > "$d/cgroup.procs" || exit 97; done; exec "$@"';
    const lifetime = String(Math.ceil(opts.lifetimeMs / 1000));
    const child = spawn('/bin/sh', ['-c', enter, 'sh', 'timeout', '--signal=TERM', '--kill-after=15', lifetime, ...args], {
      env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: '1', DROVER_CGROUPS: cgroups.join(' ') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const container = new Container(machine, cgroups, child);
    try {
      await container.waitRunning(opts.bootTimeoutMs ?? 30_000);
    } catch (err) {
      await container.halt();
      throw new Error(`${(err as Error).message}\nnspawn said:\n${container.output}`, { cause: err });
    }
    return container;
  }

  /** The container's PID 1, as the host sees it. */
  get leader(): number {
    return this.leaderPid;
  }

  private async waitRunning(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await waitFor(
      'the container to start systemd',
      () => {
        if (this.exited) throw new Error('systemd-nspawn exited during boot');
        const nspawn = children(this.child.pid ?? 0).find((c) => c.comm === 'systemd-nspawn');
        const systemd = nspawn && children(nspawn.pid).find((c) => c.comm === 'systemd');
        if (!nspawn || !systemd) return null;
        this.nspawnPid = nspawn.pid;
        this.leaderPid = systemd.pid;
        return true;
      },
      timeoutMs,
    );
    // PID 1 may not have its bus socket yet: ask again until it answers.
    let state = '';
    while (Date.now() < deadline) {
      state = (await this.exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: Math.max(1000, deadline - Date.now()) })).stdout.trim();
      if (state === 'running' || state === 'degraded') return;
      await sleep(100);
    }
    throw new Error(`the container's systemd did not reach "running" within ${timeoutMs} ms (last state: "${state}")`);
  }

  /** Runs a command inside the container (all its namespaces, a clean environment); bounded by `timeoutMs` (default 60 s). */
  exec(argv: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    return run('nsenter', ['-t', String(this.leaderPid), '-a', 'env', '-i', CONTAINER_PATH, ...argv], {
      timeoutMs: opts.timeoutMs ?? 60_000,
      ...(opts.input === undefined ? {} : { input: opts.input }),
    });
  }

  /** {@link exec}, throwing with its output when it fails. */
  async execOk(argv: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
    const res = await this.exec(argv, opts);
    if (res.code !== 0) throw new Error(`in the container, ${argv.join(' ')} exited with ${res.code}:\n${res.stderr}${res.stdout}`);
    return res.stdout;
  }

  /** Writes a file inside the container (its directory is created). */
  async writeFile(path: string, text: string, mode = '0644'): Promise<void> {
    await this.execOk(['sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"', 'sh', path, mode], { input: text });
  }

  /** `systemctl show -p PROP UNIT`'s value. */
  async unitProperty(unit: string, property: string): Promise<string> {
    return (await this.execOk(['systemctl', 'show', '-p', property, '--value', unit])).trim();
  }

  /** The unit's journal, for failure messages. */
  async journal(unit: string): Promise<string> {
    return (await this.exec(['journalctl', '--no-pager', '-o', 'cat', '-u', unit], { timeoutMs: 15_000 })).stdout;
  }

  /** Halts systemd (SIGTERM to nspawn), kills what is left in our cgroups, removes them and nspawn's leftovers in /run. */
  async halt(): Promise<void> {
    const gone = () => this.exited;
    if (!gone()) {
      signal(this.nspawnPid > 0 ? this.nspawnPid : (this.child.pid ?? 0), 'SIGTERM');
      await waitFor('the container to halt', gone, 15_000).catch(() => signal(this.nspawnPid, 'SIGKILL'));
    }
    for (const dir of this.cgroups) for (const pid of cgroupPids(dir)) signal(pid, 'SIGKILL');
    await waitFor('the container cgroups to be empty', () => this.cgroups.every((d) => cgroupPids(d).length === 0), 10_000).catch(() => undefined);
    for (const dir of this.cgroups) removeCgroup(dir);
    for (const leftover of ['propagate', 'unix-export']) rmSync(`/run/systemd/nspawn/${leftover}/${this.machine}`, { recursive: true, force: true });
  }
}
