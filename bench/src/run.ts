/**
 * Drover's benchmark (not a test): starts real `drover` processes on
 * 127.0.0.1, measures, and prints one table. See bench/README.md.
 *
 *   1. agent idle memory   — a real `drover agent` registered and idle
 *   2. activate latency    — `drover activate` until Succeeded, closure substituted from a signed cache
 *   3. fan-out             — N simulated agents (bench/src/load.ts, one process per ≤ BENCH_PER_LOAD agents) on one
 *                            `drover server` (with BENCH_WORKERS > 1: `--workers N`), SQLite and optionally PostgreSQL
 *
 * Env: BENCH_AGENTS (2000, ≤ 100000), BENCH_WORKERS (1), BENCH_PER_LOAD (15000), BENCH_PER_ADDRESS (1000, ≤ 4000),
 * BENCH_ACTIVATE_RUNS (3), BENCH_IDLE_MS (5000), BENCH_SETTLE_MS (20000), BENCH_POSTGRES (postgres://… to add the
 * PostgreSQL fan-out), BENCH_BACKENDS (sqlite[,postgres]), BENCH_PHASES (agent,activate,fanout),
 * BENCH_KEEP (keep the temp dir with server logs).
 *
 * Open files: the server and the load generator each hold one socket per
 * simulated agent, more than a default soft limit of 1024 allows. Node cannot
 * raise its own limit, so both are started as `bash -c 'ulimit -n 20000; exec node …'`
 * (the PID stays node's); `npm run bench` needs no `ulimit` of its own.
 */
import { randomBytes } from 'node:crypto';
import { cpus, hostname, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NIX_BASE32_ALPHABET } from '@drover/protocol';
import {
  buildFixtures,
  bundledAgentPath,
  closureOf,
  deleteFromStore,
  dropSchema,
  errorMessage,
  fixturePaths,
  freePort,
  randomSchema,
  sleep,
  startTestCache,
  tempDir,
  type TestCache,
} from '@drover/test-support';
import { mintFleetToken } from './fleet-token.js';
import { agentName, monotonicMs, type LoadConfig, type LoadReport } from './load.js';
import {
  cpuMsSum,
  DROVER,
  drover,
  openFiles,
  processTree,
  readMemory,
  readMemorySum,
  run,
  spawnDrover,
  spawnNode,
  stopAll,
  WANTED_NOFILE,
  type Memory,
  type Proc,
} from './proc.js';
import { median, mib, ms, percentile, renderTable, type Row } from './table.js';

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = stringEnv(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}=${raw}: expected an integer in ${min}..${max}`);
  return n;
}

const AGENTS = intEnv('BENCH_AGENTS', 2000, 1, 100_000);
const PER_ADDRESS = intEnv('BENCH_PER_ADDRESS', 1000, 1, 4000);
const WORKERS = intEnv('BENCH_WORKERS', 1, 1, 64);
const PER_LOAD = intEnv('BENCH_PER_LOAD', 15_000, 1, 100_000);
/** Extra node flags for the fan-out server (workers inherit them), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
const SERVER_NODE_FLAGS = (process.env['BENCH_SERVER_NODE_FLAGS'] ?? '').split(/\s+/).filter(Boolean);
const ACTIVATE_RUNS = intEnv('BENCH_ACTIVATE_RUNS', 3, 1, 20);
const IDLE_MS = intEnv('BENCH_IDLE_MS', 5000, 0, 120_000);
const SETTLE_MS = Math.max(IDLE_MS, intEnv('BENCH_SETTLE_MS', 20_000, 0, 300_000));
/** `$name`, or undefined when it is unset or empty. */
function stringEnv(name: string): string | undefined {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

const POSTGRES = stringEnv('BENCH_POSTGRES');
const BACKENDS = new Set((stringEnv('BENCH_BACKENDS') ?? (POSTGRES ? 'sqlite,postgres' : 'sqlite')).split(',').map((s) => s.trim()));
for (const b of BACKENDS) if (b !== 'sqlite' && b !== 'postgres') throw new Error(`BENCH_BACKENDS: unknown backend "${b}" (sqlite, postgres)`);
if (BACKENDS.has('postgres') && !POSTGRES) throw new Error('BENCH_BACKENDS names postgres but BENCH_POSTGRES (a postgres:// URL) is not set');
const PHASES = new Set((process.env['BENCH_PHASES'] ?? 'agent,activate,fanout').split(',').map((s) => s.trim()));
const KEEP = !!process.env['BENCH_KEEP'];

const rows: Row[] = [];
/** Undone on Ctrl-C too (temp dir, PostgreSQL schema); each removes itself once done. */
const cleanups = new Set<() => Promise<void>>();
const failures: string[] = [];
const row = (metric: string, value: string, unit: string, note = '') => rows.push({ metric, value, unit, note });
const progress = (text: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);

interface Server {
  readonly proc: Proc;
  readonly url: string;
  /** Flags that address this server's database for the admin commands. */
  readonly dbFlags: readonly string[];
}

async function startDroverServer(
  name: string,
  dbFlags: readonly string[],
  workDir: string,
  extra: readonly string[] = [],
  nodeFlags: readonly string[] = [],
): Promise<Server> {
  const port = await freePort();
  const proc = spawnDrover(name, ['server', '--listen', `127.0.0.1:${port}`, ...dbFlags, ...extra], {
    raiseNofile: true,
    nodeFlags,
    stdoutFile: join(workDir, `${name}.log`),
    env: { DROVER_LOG_LEVEL: 'info' },
  });
  const m = await proc.waitForOutput(/drover server ready at (http:\/\/\S+)/, 60_000);
  return { proc, url: m[1]!, dbFlags };
}

async function createToken(server: Server, kind: 'agent' | 'activate', extra: readonly string[] = []): Promise<string> {
  const r = await drover(['token', 'create', '--kind', kind, ...extra, ...server.dbFlags]);
  if (r.code !== 0) throw new Error(`drover token create --kind ${kind} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function startAgent(name: string, server: Server, token: string, workDir: string, nodeFlags: readonly string[] = []): Proc {
  return spawnDrover(
    `agent:${name}`,
    ['agent', name, '--server', server.url, '--profile', join(workDir, 'profiles', name), '--state-dir', join(workDir, 'state', name)],
    { env: { DROVER_AGENT_TOKEN: token, DROVER_LOG_LEVEL: 'info' }, nodeFlags },
  );
}

/** The single-file agent (`npm run bundle`), copied alone to its own directory, as the drover-agent package runs it. */
async function startSingleFileAgent(name: string, server: Server, token: string, workDir: string): Promise<Proc> {
  const dir = join(workDir, 'single-file-agent');
  await mkdir(dir, { recursive: true });
  const script = join(dir, 'drover-agent.mjs');
  await copyFile(await bundledAgentPath(), script);
  return spawnNode(
    `agent:${name}`,
    script,
    ['agent', name, '--server', server.url, '--profile', join(workDir, 'profiles', name), '--state-dir', join(workDir, 'state', name)],
    { env: { DROVER_AGENT_TOKEN: token, DROVER_LOG_LEVEL: 'info' } },
  );
}

function memNote(m: Memory): string {
  return `RSS ${mib(m.rss)} MiB, PSS ${mib(m.pss)} MiB`;
}

// ── 1 + 2: one real agent: idle memory, then activation latency ────────────

async function agentPhases(workDir: string): Promise<void> {
  let cache: TestCache | undefined;
  const procs: Proc[] = [];
  try {
    cache = await startTestCache({ keyName: 'drover-bench-cache' });
    const server = await startDroverServer('server-agent', ['--data-dir', join(workDir, 'data-agent')], workDir);
    procs.push(server.proc);
    const agentToken = await createToken(server, 'agent', ['--agent', 'bench-agent']);
    const activateToken = await createToken(server, 'activate');
    // The agent learns the cache in `registered`, so it is configured before the agent starts.
    const set = await drover(['workspace', 'cache', 'default', '--substituter', cache.url, '--public-key', cache.publicKey, ...server.dbFlags]);
    if (set.code !== 0) throw new Error(`drover workspace cache failed: ${set.stderr.trim()}`);

    const agent = startAgent('bench-agent', server, agentToken, workDir);
    procs.push(agent);
    if (PHASES.has('agent')) {
      progress(`agent idle memory: starting agents and a bare node for reference; reading at ${IDLE_MS} and ${SETTLE_MS} ms after registration`);
      // Agent tokens are bound to one agent name: one each.
      const tunedToken = await createToken(server, 'agent', ['--agent', 'bench-agent-tuned']);
      const singleToken = await createToken(server, 'agent', ['--agent', 'bench-agent-single']);
      const tuned = startAgent('bench-agent-tuned', server, tunedToken, workDir, ['--max-semi-space-size=1', '--max-old-space-size=32']);
      const bare = spawnNode('bare-node', '-e', ['setInterval(() => {}, 1 << 30)']);
      const single = await startSingleFileAgent('bench-agent-single', server, singleToken, workDir);
      procs.push(tuned, bare, single);
      await Promise.all([agent, tuned, single].map((p) => p.waitForOutput(/registered with the server/, 30_000)));
      const registeredAt = Date.now();
      await sleep(IDLE_MS);
      const a1 = readMemory(agent.pid);
      const t1 = readMemory(tuned.pid);
      const s1 = readMemory(single.pid);
      // V8 shrinks the start-up heap only some seconds later (memory reducer), so read again once settled.
      await sleep(Math.max(0, registeredAt + SETTLE_MS - Date.now()));
      const a2 = readMemory(agent.pid);
      const t2 = readMemory(tuned.pid);
      const s2 = readMemory(single.pid);
      const b = readMemory(bare.pid);
      const secs = (v: number) => `${Math.round(v / 1000)} s`;
      row(`agent private memory, idle ${secs(IDLE_MS)}`, mib(a1.private), 'MiB', `target ~15 MB; ${memNote(a1)}`);
      row(`agent private memory, idle ${secs(SETTLE_MS)}`, mib(a2.private), 'MiB', `target ~15 MB; settled; ${memNote(a2)}`);
      row(
        `agent + V8 flags, idle ${secs(IDLE_MS)} / ${secs(SETTLE_MS)}`,
        `${mib(t1.private)} / ${mib(t2.private)}`,
        'MiB',
        `--max-semi-space-size=1 --max-old-space-size=32; at ${secs(SETTLE_MS)}: ${memNote(t2)}`,
      );
      row(
        `single-file agent, idle ${secs(IDLE_MS)} / ${secs(SETTLE_MS)}`,
        `${mib(s1.private)} / ${mib(s2.private)}`,
        'MiB',
        `node drover-agent.mjs agent … (the drover-agent package), copied alone to a directory; at ${secs(SETTLE_MS)}: ${memNote(s2)}`,
      );
      row('bare node process private memory', mib(b.private), 'MiB', `floor: node -e 'setInterval(…)' at ${secs(SETTLE_MS)}; ${memNote(b)}`);
      await Promise.all([tuned.stop(), bare.stop(), single.stop()]);
    } else {
      await agent.waitForOutput(/registered with the server/, 30_000);
    }

    if (PHASES.has('activate')) {
      const times: number[] = [];
      const breakdown: [number, number, number][] = [];
      let closureNote = '';
      for (let i = 1; i <= ACTIVATE_RUNS; i++) {
        const salt = `bench-${randomBytes(6).toString('hex')}-${i}`;
        progress(`activate run ${i}/${ACTIVATE_RUNS}: building fixtures (salt ${salt}), pushing to the cache, deleting locally`);
        const fixtures = await buildFixtures({ markerDir: join(workDir, 'markers'), salt });
        const path = fixtures.plain;
        const closure = await closureOf(path);
        await cache.push([path]);
        // Every fixture of this salt, so no member of the closure stays alive through a sibling.
        await deleteFromStore(fixturePaths(fixtures));
        for (const p of closure) if ((await run('nix-store', ['--check-validity', p])).code === 0) throw new Error(`${p} is still in the store`);
        const spec = join(workDir, `deploy-${i}.json`);
        await writeFile(spec, JSON.stringify({ agents: { 'bench-agent': path } }));
        const startedAt = performance.now();
        const r = await run(process.execPath, [DROVER, 'activate', spec, '--server', server.url, '--timeout', '120s', '--json'], {
          env: { DROVER_ACTIVATE_TOKEN: activateToken },
          timeoutMs: 180_000,
        });
        const took = performance.now() - startedAt;
        if (r.code !== 0) throw new Error(`drover activate exited ${r.code}:\n${(r.stdout + r.stderr).trim().split('\n').slice(-15).join('\n')}`);
        if ((await run('nix-store', ['--check-validity', path])).code !== 0) throw new Error(`${path} is not in the store after a successful deployment`);
        const split = phasesOf(r.stdout, took);
        if (split) breakdown.push(split);
        progress(`activate run ${i}: ${ms(took)} ms${split ? ` (before start ${ms(split[0])}, running ${ms(split[1])}, rest ${ms(split[2])})` : ''}`);
        times.push(took);
        closureNote = `"plain" fixture, closure of ${closure.length} paths substituted over HTTP each run`;
      }
      row('activate → Succeeded, median', ms(median(times)), 'ms', `${ACTIVATE_RUNS} runs, whole \`drover activate\` CLI process; ${closureNote}`);
      row('activate → Succeeded, min', ms(Math.min(...times)), 'ms', `runs: ${times.map(ms).join(', ')} ms`);
      if (breakdown.length > 0) {
        const med = (k: 0 | 1 | 2) => ms(median(breakdown.map((b) => b[k])));
        row(
          'activate split: queued / running / rest',
          `${med(0)} / ${med(1)} / ${med(2)}`,
          'ms',
          'medians: created→runner started, started→finished (fetch+activate+checks), rest = CLI start, POST, reporting',
        );
      }
      await sleep(Math.min(IDLE_MS, 2000));
      const after = readMemory(agent.pid);
      row('agent private memory after deploys', mib(after.private), 'MiB', `after ${ACTIVATE_RUNS} deployments; ${memNote(after)}`);
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await cache?.close();
  }
}

/** From `drover activate --json` output: [created→started, started→finished, total − created→finished] in ms. */
function phasesOf(stdout: string, totalMs: number): [number, number, number] | null {
  try {
    const list = JSON.parse(stdout) as { createdAt?: string; startedAt?: string | null; finishedAt?: string | null }[];
    const d = list[0];
    if (!d?.createdAt || !d.startedAt || !d.finishedAt) return null;
    const created = Date.parse(d.createdAt);
    const startedAt = Date.parse(d.startedAt);
    const finished = Date.parse(d.finishedAt);
    return [startedAt - created, finished - startedAt, totalMs - (finished - created)];
  } catch {
    return null;
  }
}

// ── 3: fan-out with N simulated agents ──────────────────────────────────────

function fakeStorePath(): string {
  const bytes = randomBytes(32);
  let hash = '';
  for (const b of bytes) hash += NIX_BASE32_ALPHABET.charAt(b % 32);
  return `/nix/store/${hash}-bench`;
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

/** GET /api/v1/health on a new connection each time (so the cluster hands it to some worker). */
function health(url: string): Promise<{ replica: string; agentsConnected: number }> {
  return new Promise((ok, fail) => {
    const req = httpGet(`${url.replace(/\/$/, '')}/api/v1/health`, { agent: false, headers: { connection: 'close' }, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          ok(JSON.parse(body) as { replica: string; agentsConnected: number });
        } catch {
          fail(new Error(`GET /api/v1/health answered ${res.statusCode}: ${body.slice(0, 200)}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('GET /api/v1/health timed out')));
    req.on('error', fail);
  });
}

/** agentsConnected of each replica that answered, asking until every one of `replicas` did (bounded). */
async function agentsPerReplica(url: string, replicas: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < replicas * 20 && seen.size < replicas; i++) {
    const h = await health(url);
    seen.set(h.replica, h.agentsConnected);
  }
  return seen;
}

async function fanout(label: string, dbFlags: readonly string[], workDir: string): Promise<void> {
  const procs: Proc[] = [];
  let serverPids: number[] = [];
  try {
    const nofile = await achievableNofile();
    const plans = planFanout(nofile);
    const width = Math.max(4, String(AGENTS).length);
    const workerNote = WORKERS > 1 ? `primary + ${WORKERS} workers, summed` : 'one process';
    progress(`fan-out ${label}: starting the server${WORKERS > 1 ? ` with --workers ${WORKERS}` : ''}`);
    const server = await startDroverServer(`server-fanout-${label}`, dbFlags, workDir, WORKERS > 1 ? ['--workers', String(WORKERS)] : [], SERVER_NODE_FLAGS);
    procs.push(server.proc);
    serverPids = processTree(server.proc.pid);
    if (serverPids.length !== WORKERS + (WORKERS > 1 ? 1 : 0)) {
      throw new Error(
        `expected ${WORKERS > 1 ? `a primary and ${WORKERS} workers` : 'one process'}, found ${serverPids.length} process(es): ${serverPids.join(', ')}`,
      );
    }
    const agentToken = await mintFleetToken(dbFlags);
    const activateToken = await createToken(server, 'activate');
    await sleep(Math.min(IDLE_MS, 2000));
    const before = readMemorySum(serverPids);
    const fdsBefore = serverPids.map(openFiles);

    const registerTimeoutMs = Math.max(120_000, AGENTS * 3);
    const deliverTimeoutMs = Math.max(60_000, AGENTS);
    const storePath = fakeStorePath();
    progress(
      `fan-out ${label}: connecting ${AGENTS} simulated agents from ${plans.length} load process(es) over ` +
        `${plans.reduce((n, p) => n + Math.ceil(p.agents / PER_ADDRESS), 0)} source address(es)`,
    );
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
      };
      const load = spawnNode(`load-${label}-${k + 1}`, fileURLToPath(new URL('./load.js', import.meta.url)), [], {
        raiseNofile: true,
        stdinPipe: true,
        env: { BENCH_LOAD_CONFIG: JSON.stringify(config) },
      });
      procs.push(load);
      return load;
    });
    const send = (line: string) => {
      for (const load of loads) load.child.stdin?.write(`${line}\n`);
    };
    /** Server pings the simulated agents answered so far, summed over the load processes. */
    const pingsSoFar = async (tag: string): Promise<number> => {
      send(`stats ${tag}`);
      const pattern = new RegExp(`^(\\{"type":"stats","tag":"${tag}".*)\\n`, 'm');
      const stats = await Promise.all(loads.map(async (load) => parseReport(await load.waitForOutput(pattern, 30_000), 'stats')));
      return stats.reduce((n, s) => n + s.pings, 0);
    };
    const regs = await Promise.all(
      loads.map(async (load) => parseReport(await load.waitForOutput(/^(\{"type":"registered".*)\n/m, registerTimeoutMs + 30_000), 'registered')),
    );
    const cpuConnect = cpuMsSum(serverPids) - cpuBeforeConnect;
    const primaryConnect = cpuMsSum(serverPids.slice(0, 1)) - primaryBeforeConnect;
    const registered = regs.reduce((n, r) => n + r.registered, 0);
    const failed = regs.reduce((n, r) => n + r.failed, 0);
    const firstError = regs.find((r) => r.firstError)?.firstError ?? null;
    if (registered === 0) throw new Error(`no simulated agent registered: ${firstError ?? 'unknown reason'}`);
    const connectMs = Math.max(...regs.map((r) => r.endAt)) - Math.min(...regs.map((r) => r.startAt));
    const regNote = failed > 0 ? `; ${failed} FAILED, first: ${firstError}` : '';
    const loadNote = plans.length > 1 ? `${plans.length} load processes × 64 handshakes in flight` : '64 handshakes in flight';
    row(`[${label}] connect + register ${AGENTS} agents`, ms(connectMs), 'ms', `${registered}/${AGENTS} registered, ${loadNote}${regNote}`);
    row(
      `[${label}] connect rate`,
      (registered / (connectMs / 1000)).toFixed(0),
      'agents/s',
      `server CPU meanwhile ${(cpuConnect / 1000).toFixed(1)} s (${((cpuConnect * 1000) / registered).toFixed(0)} µs per agent, ${workerNote}` +
        `${WORKERS > 1 ? `; primary alone ${(primaryConnect / 1000).toFixed(1)} s` : ''})`,
    );
    progress(`fan-out ${label}: ${registered} registered in ${ms(connectMs)} ms; idling ${IDLE_MS} ms`);

    const pings0 = await pingsSoFar('idle-start');
    const cpuIdle0 = cpuMsSum(serverPids);
    await sleep(IDLE_MS);
    const cpuIdle = cpuMsSum(serverPids) - cpuIdle0;
    const pings = (await pingsSoFar('idle-end')) - pings0;
    const after = readMemorySum(serverPids);
    row(`[${label}] server RSS, no agents`, mib(before.rss), 'MiB', `private ${mib(before.private)} MiB; ${workerNote}`);
    row(`[${label}] server RSS, ${registered} agents idle`, mib(after.rss), 'MiB', `private ${mib(after.private)} MiB; ${workerNote}`);
    row(
      `[${label}] server memory per agent`,
      ((after.rss - before.rss) / 1024 / registered).toFixed(1),
      'KB',
      `ΔRSS / agents (Δprivate: ${((after.private - before.private) / 1024 / registered).toFixed(1)} KB)`,
    );
    row(
      `[${label}] server CPU, ${registered} agents idle ${(IDLE_MS / 1000).toFixed(0)} s`,
      ms(cpuIdle),
      'ms',
      `utime+stime = ${((cpuIdle / Math.max(1, IDLE_MS)) * 100).toFixed(2)}% of one core; ${workerNote}; ` +
        `${pings} server pings answered meanwhile (each agent is pinged every 30 s)`,
    );
    if (WORKERS > 1) {
      const perReplica = await agentsPerReplica(server.url, WORKERS);
      const counts = [...perReplica.values()];
      const sum = counts.reduce((a, b) => a + b, 0);
      const fds = serverPids.map((pid, i) => openFiles(pid) - fdsBefore[i]!);
      row(
        `[${label}] agents per worker`,
        counts.join(' / '),
        'agents',
        `GET /api/v1/health agentsConnected of ${perReplica.size}/${WORKERS} replicas, sum ${sum}; Δopen files primary / workers: ${fds.join(' / ')}`,
      );
    }

    const targets: string[] = [];
    const skip = new Set(regs.flatMap((r) => r.failedNames));
    for (let i = 0; i < AGENTS; i++) {
      const name = agentName('sim-', i, width);
      if (!skip.has(name)) targets.push(name);
    }
    const body = JSON.stringify({ agents: Object.fromEntries(targets.map((n) => [n, storePath])) });
    send('arm');
    await Promise.all(loads.map((load) => load.waitForOutput(/^\{"type":"armed"\}\n/m, 30_000)));
    progress(`fan-out ${label}: POST /api/v1/activate naming ${targets.length} agents (${mib(body.length)} MiB body)`);
    let postStatus = 0;
    let postError: string | null = null;
    const postAt = monotonicMs();
    let postMs = NaN;
    try {
      const res = await fetch(`${server.url.replace(/\/$/, '')}/api/v1/activate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${activateToken}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(deliverTimeoutMs),
      });
      postMs = monotonicMs() - postAt;
      postStatus = res.status;
      const text = await res.text();
      if (res.status !== 201) postError = `POST /activate answered ${res.status}: ${text.slice(0, 300)}`;
    } catch (err) {
      postError = `POST /activate failed: ${(err as Error).message}`;
    }
    if (postError) throw new Error(postError);
    send(`collect ${deliverTimeoutMs}`);
    const fans = await Promise.all(
      loads.map(async (load) => parseReport(await load.waitForOutput(/^(\{"type":"fanout".*)\n/m, deliverTimeoutMs + 30_000), 'fanout')),
    );
    const d = fans.flatMap((f) => f.deployAt.map((t) => t - postAt)).sort((a, b) => a - b);
    const armed = fans.reduce((n, f) => n + f.agents, 0);
    const missing = armed - d.length;
    const last = d.length > 0 ? d[d.length - 1]! : NaN;
    row(`[${label}] POST /activate latency`, ms(postMs), 'ms', `${targets.length} agents, one store path, HTTP ${postStatus}`);
    row(
      `[${label}] POST → last agent got \`deploy\``,
      ms(last),
      'ms',
      missing > 0
        ? `${missing} agents got NO deploy within ${deliverTimeoutMs} ms`
        : `all ${armed} delivered${plans.length > 1 ? ` (merged from ${plans.length} load processes)` : ''}`,
    );
    row(
      `[${label}] per-agent delivery p50 / p99`,
      `${ms(percentile(d, 50))} / ${ms(percentile(d, 99))}`,
      'ms',
      `from sending the POST; first ${ms(d[0] ?? NaN)} ms`,
    );

    // What the web UI's agents table asks for, with every agent in the workspace.
    for (const [what, query] of [
      ['first page', '?limit=50'],
      ['page 100', '?limit=50&offset=4950'],
      ['name filter', `?q=${encodeURIComponent(agentName('sim-', Math.floor(AGENTS / 2), width).slice(0, -1))}&limit=50`],
      ['online filter', '?status=online&limit=50'],
    ] as const) {
      const t = await listLatency(`${server.url.replace(/\/$/, '')}/api/v1/agents${query}`, activateToken);
      row(`[${label}] GET agents, ${what}`, `${ms(t.p50)} / ${ms(t.p95)}`, 'ms', `p50 / p95 of ${t.n} requests, ${registered} agents; ${query}`);
    }

    // A worker that died was replaced by the primary: say so rather than measure a different process.
    const now = processTree(server.proc.pid);
    const gone = serverPids.filter((pid) => !now.includes(pid));
    const log = await readFile(join(workDir, `server-fanout-${label}.log`), 'utf8').catch(() => '');
    const died = log.split('\n').filter((l) => /worker died|exited during start-up/.test(l));
    if (gone.length > 0 || died.length > 0) {
      throw new Error(
        `server process(es) ${gone.join(', ') || '?'} died during the fan-out (${died.length} "worker died" log line(s)); first: ${died[0]?.slice(0, 300) ?? 'none'}`,
      );
    }
    send('quit');
    for (const load of loads) load.child.stdin?.end();
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

/** Sequential GETs of one URL: the latency a user paging the UI sees. */
async function listLatency(url: string, token: string, n = 20): Promise<{ p50: number; p95: number; n: number }> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const at = monotonicMs();
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) });
    await res.text();
    if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}`);
    times.push(monotonicMs() - at);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95), n };
}

// ── main ────────────────────────────────────────────────────────────────────

async function phase(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const message = errorMessage(err);
    failures.push(`${name}: ${message}`);
    row(name, 'FAILED', '', message.split('\n')[0]!.slice(0, 160));
    progress(`${name} FAILED:\n${message}`);
  }
}

async function main(): Promise<number> {
  const started = new Date();
  const work = await tempDir('drover-bench-');
  const workDir = work.path;
  const removeWorkDir = () => (KEEP ? Promise.resolve() : work.remove());
  cleanups.add(removeWorkDir);
  await mkdir(join(workDir, 'profiles'), { recursive: true });
  progress(`work dir ${workDir}`);
  try {
    if (PHASES.has('agent') || PHASES.has('activate')) await phase('agent phases', () => agentPhases(workDir));
    if (PHASES.has('fanout')) {
      if (BACKENDS.has('sqlite')) await phase('fan-out sqlite', () => fanout('sqlite', ['--data-dir', join(workDir, 'data-fanout')], workDir));
      if (POSTGRES && BACKENDS.has('postgres')) {
        const schema = randomSchema('bench_');
        const drop = () => dropSchema(POSTGRES, schema);
        cleanups.add(drop);
        await phase('fan-out postgres', async () => {
          try {
            await fanout('postgres', ['--database-url', POSTGRES, '--database-schema', schema], workDir);
          } finally {
            await stopAll();
            cleanups.delete(drop);
            await drop();
          }
        });
      }
    }
  } finally {
    await stopAll();
    cleanups.delete(removeWorkDir);
    await removeWorkDir();
    if (KEEP) progress(`kept ${workDir}`);
  }
  const cpu = cpus();
  process.stdout.write(
    `\nDrover benchmark — ${started.toISOString()} — ${hostname()}: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, ` +
      `${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.version}, BENCH_AGENTS=${AGENTS}, BENCH_WORKERS=${WORKERS}\n\n${renderTable(rows)}\n`,
  );
  if (failures.length > 0) process.stdout.write(`\n${failures.length} phase(s) failed; see stderr.\n`);
  return failures.length > 0 ? 1 : 0;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: stopping every process started`);
    const undo = async () => {
      await stopAll(3000);
      for (const fn of cleanups) await fn().catch((err: unknown) => progress(`cleanup failed: ${errorMessage(err)}`));
    };
    const timer = setTimeout(() => process.exit(130), 15_000);
    timer.unref();
    void undo().finally(() => process.exit(130));
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    progress(`benchmark failed: ${(err as Error).stack ?? String(err)}`);
    void stopAll().finally(() => process.exit(1));
  },
);
