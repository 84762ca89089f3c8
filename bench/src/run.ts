/**
 * Drover's benchmark (not a test): starts real `drover` processes on
 * 127.0.0.1, measures, and prints one table. See bench/README.md.
 *
 *   1. agent idle memory   — a real `drover agent` registered and idle
 *   2. activate latency    — `drover activate` until Succeeded, closure substituted from a signed cache
 *   3. fan-out             — N simulated agents (bench/src/load.ts) on one `drover server`, SQLite and optionally PostgreSQL
 *
 * Env: BENCH_AGENTS (2000), BENCH_PER_ADDRESS (1000, ≤ 4000), BENCH_ACTIVATE_RUNS (3),
 * BENCH_IDLE_MS (5000), BENCH_SETTLE_MS (20000), BENCH_POSTGRES (postgres://… to add the PostgreSQL fan-out),
 * BENCH_PHASES (agent,activate,fanout), BENCH_KEEP (keep the temp dir with server logs).
 *
 * Open files: the server and the load generator each hold one socket per
 * simulated agent, more than a default soft limit of 1024 allows. Node cannot
 * raise its own limit, so both are started as `bash -c 'ulimit -n 20000; exec node …'`
 * (the PID stays node's); `npm run bench` needs no `ulimit` of its own.
 */
import { randomBytes } from 'node:crypto';
import { cpus, hostname, totalmem, tmpdir } from 'node:os';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NIX_BASE32_ALPHABET } from '@drover/protocol';
import type { FanoutReport, LoadConfig, RegisteredReport } from './load.js';
import { buildFixtures, closureOf, deleteFromStore, startBinaryCache, type BinaryCache } from './nix.js';
import {
  DROVER,
  drover,
  freePort,
  readMemory,
  run,
  sleep,
  spawnDrover,
  spawnNode,
  stopAll,
  WANTED_NOFILE,
  type Memory,
  type Proc,
} from './proc.js';
import { median, mib, ms, percentile, renderTable, type Row } from './table.js';

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}=${raw}: expected an integer in ${min}..${max}`);
  return n;
}

const AGENTS = intEnv('BENCH_AGENTS', 2000, 1, 18_000);
const PER_ADDRESS = intEnv('BENCH_PER_ADDRESS', 1000, 1, 4000);
const ACTIVATE_RUNS = intEnv('BENCH_ACTIVATE_RUNS', 3, 1, 20);
const IDLE_MS = intEnv('BENCH_IDLE_MS', 5000, 0, 120_000);
const SETTLE_MS = Math.max(IDLE_MS, intEnv('BENCH_SETTLE_MS', 20_000, 0, 300_000));
const POSTGRES = process.env['BENCH_POSTGRES'] || undefined;
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

async function startDroverServer(name: string, dbFlags: readonly string[], workDir: string): Promise<Server> {
  const port = await freePort();
  const proc = spawnDrover(name, ['server', '--listen', `127.0.0.1:${port}`, ...dbFlags], {
    raiseNofile: true,
    stdoutFile: join(workDir, `${name}.log`),
    env: { DROVER_LOG_LEVEL: 'info' },
  });
  const m = await proc.waitForOutput(/drover server ready at (http:\/\/\S+)/, 60_000);
  return { proc, url: m[1]!, dbFlags };
}

async function createToken(server: Server, kind: 'agent' | 'activate'): Promise<string> {
  const r = await drover(['token', 'create', '--kind', kind, ...server.dbFlags]);
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

function memNote(m: Memory): string {
  return `RSS ${mib(m.rss)} MiB, PSS ${mib(m.pss)} MiB`;
}

// ── 1 + 2: one real agent: idle memory, then activation latency ────────────

async function agentPhases(workDir: string): Promise<void> {
  let cache: BinaryCache | undefined;
  const procs: Proc[] = [];
  try {
    cache = await startBinaryCache();
    const server = await startDroverServer('server-agent', ['--data-dir', join(workDir, 'data-agent')], workDir);
    procs.push(server.proc);
    const agentToken = await createToken(server, 'agent');
    const activateToken = await createToken(server, 'activate');
    // The agent learns the cache in `registered`, so it is configured before the agent starts.
    const set = await drover(['workspace', 'cache', 'default', '--substituter', cache.url, '--public-key', cache.publicKey, ...server.dbFlags]);
    if (set.code !== 0) throw new Error(`drover workspace cache failed: ${set.stderr.trim()}`);

    const agent = startAgent('bench-agent', server, agentToken, workDir);
    procs.push(agent);
    if (PHASES.has('agent')) {
      progress(`agent idle memory: starting agents and a bare node for reference; reading at ${IDLE_MS} and ${SETTLE_MS} ms after registration`);
      const tuned = startAgent('bench-agent-tuned', server, agentToken, workDir, ['--max-semi-space-size=1', '--max-old-space-size=32']);
      const bare = spawnNode('bare-node', '-e', ['setInterval(() => {}, 1 << 30)']);
      procs.push(tuned, bare);
      await Promise.all([agent, tuned].map((p) => p.waitForOutput(/registered with the server/, 30_000)));
      const registeredAt = Date.now();
      await sleep(IDLE_MS);
      const a1 = readMemory(agent.pid);
      const t1 = readMemory(tuned.pid);
      // V8 shrinks the start-up heap only some seconds later (memory reducer), so read again once settled.
      await sleep(Math.max(0, registeredAt + SETTLE_MS - Date.now()));
      const a2 = readMemory(agent.pid);
      const t2 = readMemory(tuned.pid);
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
      row('bare node process private memory', mib(b.private), 'MiB', `floor: node -e 'setInterval(…)' at ${secs(SETTLE_MS)}; ${memNote(b)}`);
      await Promise.all([tuned.stop(), bare.stop()]);
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
        const fixtures = await buildFixtures(join(workDir, 'markers'), salt);
        const path = fixtures['plain'];
        if (!path) throw new Error('make-fixtures.sh printed no "plain" path');
        const closure = await closureOf(path);
        await cache.push([path]);
        // Every fixture of this salt, so no member of the closure stays alive through a sibling.
        await deleteFromStore(Object.values(fixtures));
        for (const p of closure) if ((await run('nix-store', ['--check-validity', p])).code === 0) throw new Error(`${p} is still in the store`);
        const spec = join(workDir, `deploy-${i}.json`);
        await writeFile(spec, JSON.stringify({ agents: { 'bench-agent': path } }));
        const r = await run(process.execPath, [DROVER, 'activate', spec, '--server', server.url, '--timeout', '120s', '--json'], {
          env: { DROVER_ACTIVATE_TOKEN: activateToken },
          timeoutMs: 180_000,
        });
        if (r.code !== 0) throw new Error(`drover activate exited ${r.code}:\n${(r.stdout + r.stderr).trim().split('\n').slice(-15).join('\n')}`);
        if ((await run('nix-store', ['--check-validity', path])).code !== 0) throw new Error(`${path} is not in the store after a successful deployment`);
        const split = phasesOf(r.stdout, r.ms);
        if (split) breakdown.push(split);
        progress(`activate run ${i}: ${ms(r.ms)} ms${split ? ` (before start ${ms(split[0])}, running ${ms(split[1])}, rest ${ms(split[2])})` : ''}`);
        times.push(r.ms);
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
  for (const b of bytes) hash += NIX_BASE32_ALPHABET[b % 32];
  return `/nix/store/${hash}-bench`;
}

/** The soft open-files limit a `bash -c 'ulimit -n …'` child ends up with. */
async function achievableNofile(): Promise<number> {
  const r = await run('bash', ['-c', `ulimit -n ${WANTED_NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ulimit -n`]);
  const n = Number(r.stdout.trim());
  return r.stdout.trim() === 'unlimited' ? Infinity : Number.isFinite(n) ? n : 0;
}

function parseLine<T>(m: RegExpMatchArray): T {
  return JSON.parse(m[1]!) as T;
}

async function fanout(label: string, dbFlags: readonly string[], workDir: string): Promise<void> {
  const procs: Proc[] = [];
  try {
    const nofile = await achievableNofile();
    if (nofile < AGENTS + 200) {
      throw new Error(`only ${nofile} open files per process are allowed here; ${AGENTS} agents need ${AGENTS + 200} (raise the hard limit or lower BENCH_AGENTS)`);
    }
    progress(`fan-out ${label}: starting the server`);
    const server = await startDroverServer(`server-fanout-${label}`, dbFlags, workDir);
    procs.push(server.proc);
    const agentToken = await createToken(server, 'agent');
    const activateToken = await createToken(server, 'activate');
    await sleep(Math.min(IDLE_MS, 2000));
    const before = readMemory(server.proc.pid);

    const config: LoadConfig = {
      server: server.url,
      agentToken,
      activateToken,
      agents: AGENTS,
      prefix: 'sim-',
      perAddress: PER_ADDRESS,
      concurrency: 64,
      registerTimeoutMs: 120_000,
      deliverTimeoutMs: 60_000,
      storePath: fakeStorePath(),
    };
    progress(`fan-out ${label}: connecting ${AGENTS} simulated agents over ${Math.ceil(AGENTS / PER_ADDRESS)} source address(es)`);
    const load = spawnNode(`load-${label}`, fileURLToPath(new URL('./load.js', import.meta.url)), [], {
      raiseNofile: true,
      stdinPipe: true,
      env: { BENCH_LOAD_CONFIG: JSON.stringify(config) },
    });
    procs.push(load);
    const reg = parseLine<RegisteredReport>(await load.waitForOutput(/^(\{"type":"registered".*)\n/m, config.registerTimeoutMs + 30_000));
    if (reg.registered === 0) throw new Error(`no simulated agent registered: ${reg.firstError ?? 'unknown reason'}`);
    const regNote = reg.failed > 0 ? `; ${reg.failed} FAILED, first: ${reg.firstError}` : '';
    row(`[${label}] connect + register ${AGENTS} agents`, ms(reg.ms), 'ms', `${reg.registered}/${AGENTS} registered, 64 handshakes in flight${regNote}`);
    progress(`fan-out ${label}: ${reg.registered} registered in ${ms(reg.ms)} ms; idling ${IDLE_MS} ms`);

    await sleep(IDLE_MS);
    const after = readMemory(server.proc.pid);
    row(`[${label}] server RSS, no agents`, mib(before.rss), 'MiB', `private ${mib(before.private)} MiB`);
    row(`[${label}] server RSS, ${reg.registered} agents idle`, mib(after.rss), 'MiB', `private ${mib(after.private)} MiB`);
    row(
      `[${label}] server memory per agent`,
      ((after.rss - before.rss) / 1024 / reg.registered).toFixed(1),
      'KB',
      `ΔRSS / agents (Δprivate: ${((after.private - before.private) / 1024 / reg.registered).toFixed(1)} KB)`,
    );

    progress(`fan-out ${label}: POST /api/v1/activate naming ${reg.registered} agents`);
    load.child.stdin?.write('activate\n');
    const fan = parseLine<FanoutReport>(await load.waitForOutput(/^(\{"type":"fanout".*)\n/m, config.deliverTimeoutMs * 2 + 30_000));
    if (fan.error) throw new Error(fan.error);
    const d = fan.deliveryMs;
    const missing = fan.agents - fan.received;
    const last = d.length > 0 ? d[d.length - 1]! : NaN;
    row(`[${label}] POST /activate latency`, ms(fan.postMs), 'ms', `${fan.agents} agents, one store path, HTTP ${fan.postStatus}`);
    row(
      `[${label}] POST → last agent got \`deploy\``,
      ms(last),
      'ms',
      missing > 0 ? `${missing} agents got NO deploy within ${config.deliverTimeoutMs} ms` : `all ${fan.agents} delivered`,
    );
    row(`[${label}] per-agent delivery p50 / p99`, `${ms(percentile(d, 50))} / ${ms(percentile(d, 99))}`, 'ms', `from sending the POST; first ${ms(d[0] ?? NaN)} ms`);
    load.child.stdin?.end('quit\n');
  } finally {
    for (const p of procs.reverse()) await p.stop();
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const { openDatabase } = await import('@drover/server');
  const database = await openDatabase({ databaseUrl: url, databaseSchema: 'public', dataDir: tmpdir() });
  try {
    await database.db.schema.dropSchema(schema).ifExists().cascade().execute();
  } finally {
    await database.close();
  }
}

// ── main ────────────────────────────────────────────────────────────────────

async function phase(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    failures.push(`${name}: ${message}`);
    row(`${name}`, 'FAILED', '', message.split('\n')[0]!.slice(0, 160));
    progress(`${name} FAILED:\n${message}`);
  }
}

async function main(): Promise<number> {
  const started = new Date();
  const workDir = await mkdtemp(join(tmpdir(), 'drover-bench-'));
  const removeWorkDir = () => (KEEP ? Promise.resolve() : rm(workDir, { recursive: true, force: true }));
  cleanups.add(removeWorkDir);
  await mkdir(join(workDir, 'profiles'), { recursive: true });
  progress(`work dir ${workDir}`);
  try {
    if (PHASES.has('agent') || PHASES.has('activate')) await phase('agent phases', () => agentPhases(workDir));
    if (PHASES.has('fanout')) {
      await phase('fan-out sqlite', () => fanout('sqlite', ['--data-dir', join(workDir, 'data-fanout')], workDir));
      if (POSTGRES) {
        const schema = `bench_${randomBytes(5).toString('hex')}`;
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
      `${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.version}, BENCH_AGENTS=${AGENTS}\n\n${renderTable(rows)}\n`,
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
      for (const fn of cleanups) await fn().catch((err: Error) => progress(`cleanup failed: ${err.message}`));
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
