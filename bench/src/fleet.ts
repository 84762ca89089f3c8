/**
 * A `drover server` and its simulated fleet, as the fan-out and rollout
 * phases use them: the server (one process, or `--workers N`), one shared
 * agent token, and ⌈BENCH_AGENTS / BENCH_PER_LOAD⌉ load processes
 * (`load.ts`) whose simulated agents connect and register — or, for the
 * limit of the same run, the bare `ws` server of limit-server.ts (as many
 * workers) with the same load processes. Spread over
 * processes and source addresses so no process needs more open files than
 * it may have (see bench/README.md), and stopped again — server workers
 * included — whatever happens.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NIX_BASE32_ALPHABET } from '@drover/protocol';
import { freePort, sleep, waitFor } from '@drover/test-support';
import { AGENTS, IDLE_MS, PER_ADDRESS, PER_LOAD, progress, SERVER_NODE_FLAGS, WORKERS } from './env.js';
import { mintFleetToken } from './fleet-token.js';
import { PERF, PERF_NODE_FLAGS, perfDir, recordPerf, type Split } from './perf.js';
import { agentName, monotonicMs, type LoadConfig, type LoadReport, type RegisteredReport } from './load.js';
import { ms, percentile } from './table.js';
import { cpuMsSum, drover, openFiles, processTree, readMemorySum, run, spawnDrover, spawnNode, WANTED_NOFILE, type Memory, type Proc } from './proc.js';

export interface Server {
  readonly proc: Proc;
  readonly url: string;
  readonly port: number;
  /** Flags that address this server's database for the admin commands. */
  readonly dbFlags: readonly string[];
}

export async function startDroverServer(
  name: string,
  dbFlags: readonly string[],
  workDir: string,
  extra: readonly string[] = [],
  nodeFlags: readonly string[] = [],
  fixedPort?: number,
): Promise<Server> {
  const port = fixedPort ?? (await freePort());
  const proc = spawnDrover(name, ['server', '--listen', `127.0.0.1:${port}`, ...dbFlags, ...extra], {
    raiseNofile: true,
    nodeFlags: [...nodeFlags, ...PERF_NODE_FLAGS],
    ...(PERF ? { cwd: perfDir(workDir) } : {}),
    stdoutFile: join(workDir, `${name}.log`),
    env: { DROVER_LOG_LEVEL: 'info' },
  });
  const m = await proc.waitForOutput(/drover server ready at (http:\/\/\S+)/, 60_000);
  return { proc, url: m[1]!, port, dbFlags };
}

/** The bare `ws` server of limit-server.ts with BENCH_WORKERS workers: the limit the fleet rows are compared with. */
async function startLimitServer(name: string, workDir: string): Promise<Server> {
  const port = await freePort();
  const proc = spawnNode(name, fileURLToPath(new URL('./limit-server.js', import.meta.url)), [], {
    raiseNofile: true,
    stdoutFile: join(workDir, `${name}.log`),
    env: { BENCH_LIMIT_PORT: String(port), BENCH_LIMIT_WORKERS: String(WORKERS) },
  });
  // The ready line goes to the log file; the process prints nothing else.
  const logFile = join(workDir, `${name}.log`);
  const url = await waitFor(
    `${name} to listen`,
    async () => {
      if (!proc.running) throw new Error(`${name} exited before listening:\n${proc.tail()}`);
      return /limit server ready at (http:\/\/\S+)/.exec(await readFile(logFile, 'utf8').catch(() => ''))?.[1] ?? null;
    },
    30_000,
    50,
  );
  return { proc, url, port, dbFlags: [] };
}

export async function createToken(server: Server, kind: 'agent' | 'activate', extra: readonly string[] = []): Promise<string> {
  const r = await drover(['token', 'create', '--kind', kind, ...extra, ...server.dbFlags]);
  if (r.code !== 0) throw new Error(`drover token create --kind ${kind} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** The soft open-files limit a `bash -c 'ulimit -n …'` child ends up with. */
async function achievableNofile(): Promise<number> {
  const r = await run('bash', ['-c', `ulimit -n ${WANTED_NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ulimit -n`]);
  const n = Number(r.stdout.trim());
  return r.stdout.trim() === 'unlimited' ? Infinity : Number.isFinite(n) ? n : 0;
}

/** The report of `type` a load process printed on the line `m` matched (its first group); throws on any other. */
function parseReport<K extends LoadReport['type']>(m: RegExpMatchArray, type: K): Extract<LoadReport, { type: K }> {
  const report = JSON.parse(m[1]!) as LoadReport;
  if (!isReport(report, type)) throw new Error(`expected a "${type}" report from a load process, got: ${m[1]}`);
  return report;
}

function isReport<K extends LoadReport['type']>(report: LoadReport, type: K): report is Extract<LoadReport, { type: K }> {
  return report.type === type;
}

/** Open files a server process keeps for itself (database, logs, listening socket, IPC) beside agent sockets, plus slack for an uneven spread over workers. */
const SERVER_FD_RESERVE = 1000;
/** The same for a load process. */
const LOAD_FD_RESERVE = 200;
/** Source addresses 127.0.0.2 … 127.0.0.254. */
const MAX_ADDRESSES = 253;

interface LoadPlan {
  readonly agents: number;
  readonly offset: number;
  readonly addressBase: number;
}

/**
 * How the fan-out is spread: agents over load processes (≤ PER_LOAD each,
 * each with its own names and source addresses) and over server processes.
 * Throws, saying what to change, when a process would need more open files
 * than it may have.
 */
function planFanout(nofile: number): LoadPlan[] {
  const serverBudget = nofile - SERVER_FD_RESERVE;
  const perServer = Math.ceil(AGENTS / WORKERS);
  if (perServer > serverBudget) {
    const need = Math.ceil(AGENTS / Math.max(1, serverBudget));
    throw new Error(
      `${AGENTS} agents over ${WORKERS} server process(es) is ${perServer} sockets per process, but a process may have only ${nofile} open files ` +
        `(≤ ${serverBudget} agents each, keeping ${SERVER_FD_RESERVE} spare): set BENCH_WORKERS ≥ ${need} (or lower BENCH_AGENTS)`,
    );
  }
  if (PER_LOAD > nofile - LOAD_FD_RESERVE) {
    throw new Error(
      `BENCH_PER_LOAD=${PER_LOAD} sockets per load process, but a process may have only ${nofile} open files: set BENCH_PER_LOAD ≤ ${nofile - LOAD_FD_RESERVE}`,
    );
  }
  const loads = Math.ceil(AGENTS / PER_LOAD);
  const plans: LoadPlan[] = [];
  let addressBase = 0;
  for (let k = 0; k < loads; k++) {
    const offset = Math.floor((k * AGENTS) / loads);
    const agents = Math.floor(((k + 1) * AGENTS) / loads) - offset;
    plans.push({ agents, offset, addressBase });
    addressBase += Math.ceil(agents / PER_ADDRESS);
  }
  if (addressBase > MAX_ADDRESSES) {
    throw new Error(
      `${AGENTS} agents at BENCH_PER_ADDRESS=${PER_ADDRESS} over ${loads} load process(es) need ${addressBase} source addresses, more than 127.0.0.2–254: raise BENCH_PER_ADDRESS (≤ 4000)`,
    );
  }
  return plans;
}

/** A server with BENCH_AGENTS simulated agents registered (those that could). */
export interface Fleet {
  readonly server: Server;
  /** The server's processes: the primary first, then its workers. */
  readonly serverPids: readonly number[];
  readonly loads: readonly Proc[];
  readonly regs: readonly RegisteredReport[];
  readonly registered: number;
  readonly failed: number;
  readonly firstError: string | null;
  /** First connect of any load process → last `registered` of any. */
  readonly connectMs: number;
  /** "upgrade p50 / p99 … ms, hello → registered p50 / p99 … ms": where one handshake waited (load.ts). */
  readonly handshakeNote: string;
  /** Server CPU ms during the connect phase, all processes and the primary alone. */
  readonly cpuConnect: number;
  readonly primaryConnect: number;
  /** BENCH_PERF: the server's CPU during the connect phase, by package (perf.ts). */
  readonly registrationSplit?: Split;
  /** Server memory before the load processes started. */
  readonly before: Memory;
  readonly fdsBefore: readonly number[];
  readonly activateToken: string;
  /** Digits of the agent numbers. */
  readonly width: number;
  /** Names of the registered agents, in name order. */
  readonly targets: readonly string[];
  /** "one process" or "primary + N workers, summed". */
  readonly workerNote: string;
  /** Sends one command line to every load process. */
  send(line: string): void;
  /** The report of `type` from every load process, on the next line `pattern` matches (each line is taken once). */
  reports<K extends LoadReport['type']>(pattern: RegExp, type: K, timeoutMs: number): Promise<Extract<LoadReport, { type: K }>[]>;
  /** Throws when a server process died (the primary restarts dead workers, which would be measuring another process). */
  checkAlive(): Promise<void>;
}

/** The handshakes' waits of every load process merged: TCP + upgrade, then the hello's round trip. */
function handshakeNote(regs: readonly RegisteredReport[]): string {
  const spread = (pick: (r: RegisteredReport) => readonly number[]): string => {
    const all = regs.flatMap((r) => pick(r)).sort((a, b) => a - b);
    return `p50 / p99 ${ms(percentile(all, 50))} / ${ms(percentile(all, 99))} ms`;
  };
  return `upgrade ${spread((r) => r.upgradeMs)}, hello → registered ${spread((r) => r.helloMs)}`;
}

export interface FleetOptions {
  /** The bare `ws` server (limit-server.ts) instead of Drover: no database, no tokens. */
  readonly limit?: boolean;
  /** The simulated agents reconnect after a close, as the agent does (the reconnect storm). */
  readonly reconnect?: boolean;
}

/** Starts the server and the load processes, waits until the agents registered, and hands the fleet to `use`; stops everything after. */
export async function withFleet(
  label: string,
  dbFlags: readonly string[],
  workDir: string,
  use: (fleet: Fleet) => Promise<void>,
  options: FleetOptions = {},
): Promise<void> {
  const procs: Proc[] = [];
  let serverPids: number[] = [];
  try {
    const plans = planFanout(await achievableNofile());
    const width = Math.max(4, String(AGENTS).length);
    const slug = label.replace(/\s+/g, '-');
    const serverName = `server-${slug}`;
    progress(`${label}: starting the server${WORKERS > 1 ? ` with --workers ${WORKERS}` : ''}`);
    const server = options.limit
      ? await startLimitServer(serverName, workDir)
      : await startDroverServer(serverName, dbFlags, workDir, WORKERS > 1 ? ['--workers', String(WORKERS)] : [], SERVER_NODE_FLAGS);
    procs.push(server.proc);
    serverPids = processTree(server.proc.pid);
    if (serverPids.length !== WORKERS + (WORKERS > 1 ? 1 : 0)) {
      throw new Error(
        `expected ${WORKERS > 1 ? `a primary and ${WORKERS} workers` : 'one process'}, found ${serverPids.length} process(es): ${serverPids.join(', ')}`,
      );
    }
    const agentToken = options.limit ? 'limit' : await mintFleetToken(dbFlags);
    const activateToken = options.limit ? 'limit' : await createToken(server, 'activate');
    await sleep(Math.min(IDLE_MS, 2000));
    const before = readMemorySum(serverPids);
    const fdsBefore = serverPids.map(openFiles);

    const registerTimeoutMs = Math.max(120_000, AGENTS * 3);
    progress(
      `${label}: connecting ${AGENTS} simulated agents from ${plans.length} load process(es) over ` +
        `${plans.reduce((n, p) => n + Math.ceil(p.agents / PER_ADDRESS), 0)} source address(es)`,
    );
    const perfWindow = PERF && !options.limit ? recordPerf(serverPids, perfDir(workDir), `${slug}-registration`) : null;
    const cpuBeforeConnect = cpuMsSum(serverPids);
    const primaryBeforeConnect = cpuMsSum(serverPids.slice(0, 1));
    const loads = plans.map((plan, k) => {
      const config: LoadConfig = {
        server: server.url,
        agentToken,
        agents: plan.agents,
        offset: plan.offset,
        width,
        prefix: 'sim-',
        addressBase: plan.addressBase,
        perAddress: PER_ADDRESS,
        concurrency: 64,
        registerTimeoutMs,
        reconnect: options.reconnect ?? false,
      };
      const load = spawnNode(`load-${slug}-${k + 1}`, fileURLToPath(new URL('./load.js', import.meta.url)), [], {
        raiseNofile: true,
        stdinPipe: true,
        env: { BENCH_LOAD_CONFIG: JSON.stringify(config) },
      });
      procs.push(load);
      return load;
    });
    const reports = <K extends LoadReport['type']>(pattern: RegExp, type: K, timeoutMs: number) =>
      Promise.all(loads.map(async (load) => parseReport(await load.takeOutput(pattern, timeoutMs), type)));
    const regs = await reports(/^(\{"type":"registered".*)\n/m, 'registered', registerTimeoutMs + 30_000);
    const cpuConnect = cpuMsSum(serverPids) - cpuBeforeConnect;
    const primaryConnect = cpuMsSum(serverPids.slice(0, 1)) - primaryBeforeConnect;
    if (perfWindow) progress(`${label}: perf: naming the registration's samples`);
    const registrationSplit = await perfWindow?.stop();
    const registered = regs.reduce((n, r) => n + r.registered, 0);
    const firstError = regs.find((r) => r.firstError)?.firstError ?? null;
    if (registered === 0) throw new Error(`no simulated agent registered: ${firstError ?? 'unknown reason'}`);
    const skip = new Set(regs.flatMap((r) => r.failedNames));
    const targets: string[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const name = agentName('sim-', i, width);
      if (!skip.has(name)) targets.push(name);
    }
    const pids = serverPids;
    await use({
      server,
      serverPids: pids,
      loads,
      regs,
      registered,
      failed: regs.reduce((n, r) => n + r.failed, 0),
      firstError,
      connectMs: Math.max(...regs.map((r) => r.endAt)) - Math.min(...regs.map((r) => r.startAt)),
      handshakeNote: handshakeNote(regs),
      cpuConnect,
      primaryConnect,
      ...(registrationSplit ? { registrationSplit } : {}),
      before,
      fdsBefore,
      activateToken,
      width,
      targets,
      workerNote: WORKERS > 1 ? `primary + ${WORKERS} workers, summed` : 'one process',
      send: (line) => {
        for (const load of loads) load.child.stdin?.write(`${line}\n`);
      },
      reports,
      checkAlive: async () => {
        const now = processTree(server.proc.pid);
        const gone = pids.filter((pid) => !now.includes(pid));
        const log = await readFile(join(workDir, `${serverName}.log`), 'utf8').catch(() => '');
        const died = log.split('\n').filter((l) => /worker died|exited during start-up/.test(l));
        if (gone.length > 0 || died.length > 0) {
          throw new Error(
            `server process(es) ${gone.join(', ') || '?'} died during the run (${died.length} "worker died" log line(s)); first: ${died[0]?.slice(0, 300) ?? 'none'}`,
          );
        }
      },
    });
    for (const load of loads) {
      load.child.stdin?.write('quit\n');
      load.child.stdin?.end();
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
    // Workers leave with the primary; make sure (they are ours, started by it).
    const isOurs = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('drover');
      } catch {
        return false;
      }
    };
    for (const pid of serverPids) {
      for (let i = 0; i < 30 && isOurs(pid); i++) await sleep(100);
      if (isOurs(pid)) {
        process.kill(pid, 'SIGKILL');
        progress(`killed leftover server process ${pid}`);
      }
    }
  }
}

/** A fake but valid store path (nothing fetches it: the simulated agents only report). */
export function fakeStorePath(): string {
  const bytes = randomBytes(32);
  let hash = '';
  for (const b of bytes) hash += NIX_BASE32_ALPHABET.charAt(b % 32);
  return `/nix/store/${hash}-bench`;
}

export interface Posted {
  /** monotonicMs when the POST was sent. */
  readonly at: number;
  /** Until the response. */
  readonly ms: number;
  readonly status: number;
  readonly activationId: string;
}

/** `POST /api/v1/activate` with a deploy.json body; throws unless 201. */
export async function postActivate(url: string, token: string, spec: object, timeoutMs: number): Promise<Posted> {
  const body = JSON.stringify(spec);
  progress(`POST /api/v1/activate (${(body.length / 2 ** 20).toFixed(1)} MiB body)`);
  const at = monotonicMs();
  let res: Response;
  try {
    res = await fetch(`${url.replace(/\/$/, '')}/api/v1/activate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new Error(`POST /activate failed: ${(err as Error).message}`, { cause: err });
  }
  const took = monotonicMs() - at;
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST /activate answered ${res.status}: ${text.slice(0, 300)}`);
  return { at, ms: took, status: res.status, activationId: (JSON.parse(text) as { activationId: string }).activationId };
}

/** One activation of every registered agent, as the fan-out measures it. */
export interface Delivery {
  readonly post: Posted;
  /** Each agent's `deploy` arrival, ms after the POST was sent, ascending. */
  readonly arrivals: number[];
  /** Agents registered when armed (each should get one `deploy`). */
  readonly armed: number;
  /** POST → the last arrival (NaN: none arrived). */
  readonly lastMs: number;
  /** Server CPU (all its processes) from just before the POST until every load process reported: what the fan-out cost it. */
  readonly cpuMs: number;
}

/** Arms the load processes, POSTs one activation naming every registered agent, and collects the `deploy` arrivals. */
export async function measureDelivery(fleet: Fleet, storePath: string, timeoutMs: number): Promise<Delivery> {
  fleet.send('arm');
  await fleet.reports(/^(\{"type":"armed"\})\n/m, 'armed', 30_000);
  const cpu0 = cpuMsSum(fleet.serverPids);
  const post = await postActivate(fleet.server.url, fleet.activateToken, { agents: Object.fromEntries(fleet.targets.map((n) => [n, storePath])) }, timeoutMs);
  fleet.send(`collect ${timeoutMs}`);
  const fans = await fleet.reports(/^(\{"type":"fanout".*)\n/m, 'fanout', timeoutMs + 30_000);
  const cpuMs = cpuMsSum(fleet.serverPids) - cpu0;
  const arrivals = fans.flatMap((f) => f.deployAt.map((t) => t - post.at)).sort((a, b) => a - b);
  return { post, arrivals, armed: fans.reduce((n, f) => n + f.agents, 0), lastMs: arrivals.length > 0 ? arrivals[arrivals.length - 1]! : NaN, cpuMs };
}
