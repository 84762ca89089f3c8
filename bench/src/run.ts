/**
 * Drover's benchmark (not a test): starts real `drover` processes on
 * 127.0.0.1, measures, and prints one table. See bench/README.md.
 *
 *   1. agent idle memory   — a real `drover agent` registered and idle
 *   2. activate latency    — `drover activate` until Succeeded, closure substituted from a signed cache
 *   3. fan-out             — N simulated agents (bench/src/load.ts, one process per ≤ BENCH_PER_LOAD agents) on one
 *                            `drover server` (with BENCH_WORKERS > 1: `--workers N`), SQLite and optionally PostgreSQL
 *   4. rollout (only when named in BENCH_PHASES) — the same fleet answering every order Succeeded: a plain activation
 *                            (the limit), the database's write floor, then a rollout in waves (rollout.ts)
 *   5. storm (only when named) — the fleet reconnecting with the agent's backoff after every server process was
 *                            killed and the server restarted (storm.ts)
 *   Before 3 and 5: the limit — the same load against a bare `ws` server, in the same run (limit.ts); the fleet
 *                            rows give their ratio to it.
 *
 * Env: BENCH_AGENTS (2000, ≤ 100000), BENCH_WORKERS (1), BENCH_PER_LOAD (15000), BENCH_PER_ADDRESS (1000, ≤ 4000),
 * BENCH_ACTIVATE_RUNS (3), BENCH_IDLE_MS (5000), BENCH_SETTLE_MS (20000), BENCH_POSTGRES (postgres://… to add the
 * PostgreSQL fan-out), BENCH_BACKENDS (sqlite[,postgres]), BENCH_PHASES (agent,activate,fanout; also rollout),
 * BENCH_ROLLOUT_WAVES (1,10,100), BENCH_ROLLOUT_TIMEOUT_MS,
 * BENCH_KEEP (keep the temp dir with server logs).
 *
 * Open files: the server and the load generator each hold one socket per
 * simulated agent, more than a default soft limit of 1024 allows. Node cannot
 * raise its own limit, so both are started as `bash -c 'ulimit -n 20000; exec node …'`
 * (the PID stays node's); `npm run bench` needs no `ulimit` of its own.
 */
import { randomBytes } from 'node:crypto';
import { cpus, hostname, totalmem } from 'node:os';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import {
  buildFixtures,
  bundledAgentPath,
  closureOf,
  deleteFromStore,
  dropSchema,
  errorMessage,
  fixturePaths,
  randomSchema,
  sleep,
  startTestCache,
  tempDir,
  type TestCache,
} from '@drover/test-support';
import { AGENTS, IDLE_MS, intEnv, progress, stringEnv, WORKERS } from './env.js';
import { createToken, fakeStorePath, measureDelivery, startDroverServer, withFleet, type Delivery, type Server } from './fleet.js';
import { limitPhase, timesLimit, type LimitFigures } from './limit.js';
import { stormPhase } from './storm.js';
import { dbPhase } from './db.js';
import { describeSplit, PERF, perfDir, recordPerf, requirePerf } from './perf.js';
import { agentName, monotonicMs } from './load.js';
import { cpuMsSum, DROVER, drover, openFiles, readMemory, readMemorySum, run, spawnDrover, spawnNode, stopAll, type Memory, type Proc } from './proc.js';
import { rolloutPhase } from './rollout.js';
import { median, mib, ms, percentile, renderTable, type Row } from './table.js';

const ACTIVATE_RUNS = intEnv('BENCH_ACTIVATE_RUNS', 3, 1, 20);
const SETTLE_MS = Math.max(IDLE_MS, intEnv('BENCH_SETTLE_MS', 20_000, 0, 300_000));

const POSTGRES = stringEnv('BENCH_POSTGRES');
const BACKENDS = new Set((stringEnv('BENCH_BACKENDS') ?? (POSTGRES ? 'sqlite,postgres' : 'sqlite')).split(',').map((s) => s.trim()));
for (const b of BACKENDS) if (b !== 'sqlite' && b !== 'postgres') throw new Error(`BENCH_BACKENDS: unknown backend "${b}" (sqlite, postgres)`);
if (BACKENDS.has('postgres') && !POSTGRES) throw new Error('BENCH_BACKENDS names postgres but BENCH_POSTGRES (a postgres:// URL) is not set');
const PHASES = new Set((process.env['BENCH_PHASES'] ?? 'agent,activate,fanout').split(',').map((s) => s.trim()));
const KEEP = !!process.env['BENCH_KEEP'];
/** The bare-ws limit of this run (limit.ts), measured before the fleet phases when one of them runs. */
let limit: LimitFigures | undefined;

const rows: Row[] = [];
/** Undone on Ctrl-C too (temp dir, PostgreSQL schema); each removes itself once done. */
const cleanups = new Set<() => Promise<void>>();
const failures: string[] = [];
const row = (metric: string, value: string, unit: string, note = '') => rows.push({ metric, value, unit, note });

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
  await withFleet(`fan-out ${label}`, dbFlags, workDir, async (fleet) => {
    const { server, serverPids, registered, workerNote, activateToken, width } = fleet;
    const deliverTimeoutMs = Math.max(60_000, AGENTS);
    const storePath = fakeStorePath();
    /** Server pings the simulated agents answered so far, summed over the load processes. */
    const pingsSoFar = async (tag: string): Promise<number> => {
      fleet.send(`stats ${tag}`);
      const stats = await fleet.reports(new RegExp(`^(\\{"type":"stats","tag":"${tag}".*)\\n`, 'm'), 'stats', 30_000);
      return stats.reduce((n, s) => n + s.pings, 0);
    };
    const regNote = fleet.failed > 0 ? `; ${fleet.failed} FAILED, first: ${fleet.firstError}` : '';
    const loadNote = fleet.loads.length > 1 ? `${fleet.loads.length} load processes × 64 handshakes in flight` : '64 handshakes in flight';
    row(
      `[${label}] connect + register ${AGENTS} agents`,
      ms(fleet.connectMs),
      'ms',
      `${registered}/${AGENTS} registered, ${loadNote}; ${fleet.handshakeNote}${regNote}`,
    );
    const rate = registered / (fleet.connectMs / 1000);
    row(
      `[${label}] connect rate`,
      rate.toFixed(0),
      'agents/s',
      `${limit ? `${(rate / limit.rate).toFixed(2)}× the bare-ws rate (${limit.rate.toFixed(0)}/s); CPU per agent ${((fleet.cpuConnect * 1000) / registered / limit.cpuPerAgentUs).toFixed(2)}× the bare-ws server's (${limit.cpuPerAgentUs.toFixed(0)} µs); ` : ''}server CPU meanwhile ${(fleet.cpuConnect / 1000).toFixed(1)} s (${((fleet.cpuConnect * 1000) / registered).toFixed(0)} µs per agent, ${workerNote}` +
        `${WORKERS > 1 ? `; primary alone ${(fleet.primaryConnect / 1000).toFixed(1)} s` : ''})`,
    );
    progress(`fan-out ${label}: ${registered} registered in ${ms(fleet.connectMs)} ms; idling ${IDLE_MS} ms`);

    const pings0 = await pingsSoFar('idle-start');
    const cpuIdle0 = cpuMsSum(serverPids);
    await sleep(IDLE_MS);
    const cpuIdle = cpuMsSum(serverPids) - cpuIdle0;
    const pings = (await pingsSoFar('idle-end')) - pings0;
    const after = readMemorySum(serverPids);
    const before = fleet.before;
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
      const fds = serverPids.map((pid, i) => openFiles(pid) - fleet.fdsBefore[i]!);
      row(
        `[${label}] agents per worker`,
        counts.join(' / '),
        'agents',
        `GET /api/v1/health agentsConnected of ${perReplica.size}/${WORKERS} replicas, sum ${sum}; Δopen files primary / workers: ${fds.join(' / ')}`,
      );
    }

    if (fleet.registrationSplit)
      row(`[${label}] registration CPU by package (perf)`, String(fleet.registrationSplit.samples), 'samples', describeSplit(fleet.registrationSplit));
    const perfWindow = PERF ? recordPerf(serverPids, perfDir(workDir), `fanout-${label}`) : null;
    const first = await measureDelivery(fleet, storePath, deliverTimeoutMs);
    const fanoutSplit = await perfWindow?.stop();
    if (fanoutSplit) row(`[${label}] fan-out CPU by package (perf)`, String(fanoutSplit.samples), 'samples', describeSplit(fanoutSplit));
    const { post, arrivals: d, armed, lastMs: last, cpuMs: fanoutCpu } = first;
    const missing = armed - d.length;
    const delivered = (delivery: Delivery, missed: number): string =>
      missed > 0
        ? `${missed} agents got NO deploy within ${deliverTimeoutMs} ms`
        : `all ${delivery.armed} delivered${fleet.loads.length > 1 ? ` (merged from ${fleet.loads.length} load processes)` : ''}`;
    row(`[${label}] POST /activate latency`, ms(post.ms), 'ms', `${fleet.targets.length} agents, one store path, HTTP ${post.status}`);
    row(`[${label}] POST → last agent got \`deploy\``, ms(last), 'ms', delivered(first, missing) + (limit ? `; ${timesLimit(last, limit.fanoutMs)}` : ''));
    row(
      `[${label}] per-agent delivery p50 / p99`,
      `${ms(percentile(d, 50))} / ${ms(percentile(d, 99))}`,
      'ms',
      `from sending the POST; first ${ms(d[0] ?? NaN)} ms`,
    );
    row(
      `[${label}] server CPU, POST → all delivered`,
      ms(fanoutCpu),
      'ms',
      `${timesLimit(fanoutCpu, limit?.fanoutCpuMs, 'ms CPU')}; ${workerNote}; less sensitive to other load than the wall clock`,
    );
    // The first activation of a fresh server runs cold code (JIT compilation took a tenth to a quarter of the CPU in profiles); the second, of
    // another path, is what a server that has run a while does, and supersedes the first's deployments (still Pending).
    const second = await measureDelivery(fleet, fakeStorePath(), deliverTimeoutMs);
    row(
      `[${label}] POST → last \`deploy\`, second activation`,
      ms(second.lastMs),
      'ms',
      `${delivered(second, second.armed - second.arrivals.length)}; ${limit ? `${timesLimit(second.lastMs, limit.warmFanoutMs)}; ` : ''}` +
        `the POST answered after ${ms(second.post.ms)} ms; server CPU ${ms(second.cpuMs)} ms` +
        (limit ? ` (${timesLimit(second.cpuMs, limit.warmFanoutCpuMs, 'ms CPU')})` : ''),
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
    await fleet.checkAlive();
  });
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
  if (PERF) await requirePerf();
  try {
    if (PHASES.has('agent') || PHASES.has('activate')) await phase('agent phases', () => agentPhases(workDir));
    if (PHASES.has('fanout') || PHASES.has('storm')) {
      await phase('limit', async () => {
        limit = await limitPhase(workDir, row);
      });
    }
    const fleetPhases = [
      ['fanout', 'fan-out', fanout],
      ['rollout', 'rollout', (label: string, dbFlags: readonly string[], dir: string) => rolloutPhase(label, dbFlags, dir, row)],
      ['storm', 'reconnect storm', (label: string, dbFlags: readonly string[], dir: string) => stormPhase(label, dbFlags, dir, row, limit)],
      ['db', 'database work', (label: string, dbFlags: readonly string[]) => dbPhase(label, dbFlags, row)],
    ] as const;
    for (const [key, name, fn] of fleetPhases) {
      if (!PHASES.has(key)) continue;
      if (BACKENDS.has('sqlite')) await phase(`${name} sqlite`, () => fn('sqlite', ['--data-dir', join(workDir, `data-${key}`)], workDir));
      if (POSTGRES && BACKENDS.has('postgres')) {
        const schema = randomSchema('bench_');
        const drop = () => dropSchema(POSTGRES, schema);
        cleanups.add(drop);
        await phase(`${name} postgres`, async () => {
          try {
            await fn('postgres', ['--database-url', POSTGRES, '--database-schema', schema], workDir);
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
