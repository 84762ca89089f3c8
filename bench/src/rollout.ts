/**
 * The rollout phase: one activation in waves (deploy.json `rollout`,
 * cumulative percents, default 1 %, 10 %, 100 %) to BENCH_AGENTS simulated
 * agents that report every order Succeeded at once, and beside it, on the
 * same server and agents in the same run, the physical limit: the same
 * orders delivered and reported without a rollout (one plain activation).
 *
 * Per wave: release (its first order reaching an agent) → its last
 * Succeeded acknowledged; the gap after the previous wave (engine overhead:
 * the previous wave's last Succeeded → this wave's first order); server CPU
 * (utime + stime from /proc/PID/stat, sampled every 100 ms and
 * interpolated at those moments) and peak RSS. The ack the server sends
 * after it recorded an agent's Succeeded is the "Succeeded" moment, so no
 * polling of the API disturbs the measurement.
 */
import { sleep } from '@drover/test-support';
import { cpuMsSum, readStatusBytes } from './proc.js';
import { AGENTS, intEnv, progress, stringEnv } from './env.js';
import { fakeStorePath, postActivate, withFleet, type Fleet, type Posted } from './fleet.js';
import { openServerDatabase } from './fleet-token.js';
import { monotonicMs } from './load.js';
import { mib, ms, type AddRow } from './table.js';

/** Cumulative percents of the waves (BENCH_ROLLOUT_WAVES, e.g. "1,10,100"). */
const WAVES = (stringEnv('BENCH_ROLLOUT_WAVES') ?? '1,10,100').split(',').map((p) => {
  const n = Number(p.trim());
  if (!Number.isFinite(n) || n <= 0 || n > 100) throw new Error(`BENCH_ROLLOUT_WAVES: "${p}" is not a percent in (0, 100]`);
  return n;
});
/** How long one round (all orders reported) may take. */
const ROUND_TIMEOUT_MS = intEnv('BENCH_ROLLOUT_TIMEOUT_MS', Math.max(180_000, AGENTS * 30), 10_000, 3_600_000);
const SAMPLE_EVERY_MS = 100;
/** Reports written at once by the database floor: the server's PostgreSQL pool holds 10 connections. */
const FLOOR_IN_FLIGHT = 10;

interface Sample {
  readonly at: number;
  readonly cpu: number;
  readonly rss: number;
}

/** One agent's order and the server's ack of its Succeeded (monotonic ms). */
interface Answer {
  readonly name: string;
  readonly deployAt: number | null;
  readonly ackAt: number | null;
}

interface Round {
  readonly post: Posted;
  readonly answers: readonly Answer[];
  readonly samples: readonly Sample[];
  /** The last ack of any agent (NaN: none). */
  readonly endAt: number;
}

/** Server CPU ms at `t`, interpolated between the samples around it. */
function cpuAt(samples: readonly Sample[], t: number): number {
  if (samples.length === 0) return NaN;
  if (t <= samples[0]!.at) return samples[0]!.cpu;
  for (let i = 1; i < samples.length; i++) {
    const b = samples[i]!;
    if (t <= b.at) {
      const a = samples[i - 1]!;
      return a.cpu + ((b.cpu - a.cpu) * (t - a.at)) / Math.max(1e-9, b.at - a.at);
    }
  }
  return samples[samples.length - 1]!.cpu;
}

function peakRss(samples: readonly Sample[], from: number, to: number): number {
  let peak = 0;
  for (const s of samples) if (s.at >= from - SAMPLE_EVERY_MS && s.at <= to + SAMPLE_EVERY_MS) peak = Math.max(peak, s.rss);
  return peak;
}

const secs = (cpuMs: number) => `${(cpuMs / 1000).toFixed(2)} s`;

/** Arms the agents to answer, POSTs `spec`, and collects every answer while sampling the server (bounded by ROUND_TIMEOUT_MS). */
async function round(fleet: Fleet, spec: object): Promise<Round> {
  fleet.send('arm answer');
  await fleet.reports(/^(\{"type":"armed"\})\n/m, 'armed', 30_000);
  const pids = fleet.serverPids;
  const samples: Sample[] = [];
  const sample = () => {
    if (samples.length > ROUND_TIMEOUT_MS / SAMPLE_EVERY_MS + 100) return;
    samples.push({ at: monotonicMs(), cpu: cpuMsSum(pids), rss: pids.reduce((n, pid) => n + readStatusBytes(pid, 'VmRSS'), 0) });
  };
  sample();
  const timer = setInterval(sample, SAMPLE_EVERY_MS);
  try {
    const post = await postActivate(fleet.server.url, fleet.activateToken, spec, 120_000);
    fleet.send(`collect ${ROUND_TIMEOUT_MS}`);
    const reports = await fleet.reports(/^(\{"type":"answered".*)\n/m, 'answered', ROUND_TIMEOUT_MS + 30_000);
    sample();
    const targets = new Set(fleet.targets);
    const answers: Answer[] = reports
      .flatMap((r) => r.names.map((name, i) => ({ name, deployAt: r.deployAt[i] ?? null, ackAt: r.ackAt[i] ?? null })))
      .filter((a) => targets.has(a.name));
    const acks = answers.map((a) => a.ackAt).filter((t): t is number => t !== null);
    return { post, answers, samples, endAt: acks.length > 0 ? Math.max(...acks) : NaN };
  } finally {
    clearInterval(timer);
  }
}

async function apiGet<T>(fleet: Fleet, path: string): Promise<T> {
  const res = await fetch(`${fleet.server.url.replace(/\/$/, '')}/api/v1${path}`, {
    headers: { authorization: `Bearer ${fleet.activateToken}` },
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** How many deployments of the workspace are Succeeded (the API's count, not the agents' view). */
async function succeededTotal(fleet: Fleet): Promise<number> {
  return (await apiGet<{ total?: number }>(fleet, '/deployments?status=Succeeded&limit=1')).total ?? NaN;
}

interface ActivationView {
  readonly deployments: readonly { agent: string; wave?: number | null }[];
  readonly activation?: {
    readonly rollout: null | { state: string; waves: readonly { index: number; agents: number; state: string }[] };
  };
}

/** Agent names of each wave, from the activation view (`wave` of each deployment), in wave order. */
function wavesOf(view: ActivationView): string[][] {
  const waves: (string[] | undefined)[] = [];
  for (const d of view.deployments) {
    if (typeof d.wave !== 'number') throw new Error(`deployment of ${d.agent} has no wave in the activation view`);
    (waves[d.wave] ??= []).push(d.agent);
  }
  return Array.from(waves, (w) => w ?? []);
}

/** One spread of moments: its first and last (NaN when empty). */
function span(values: readonly (number | null)[]): { first: number; last: number; missing: number } {
  const v = values.filter((t): t is number => t !== null);
  return { first: v.length ? Math.min(...v) : NaN, last: v.length ? Math.max(...v) : NaN, missing: values.length - v.length };
}

/**
 * The database's own floor for the same reports: per deployment of the
 * activation, the writes an agent's `started` and `finished` cost the server
 * (one UPDATE; a transaction of the deployment's and the agent's UPDATE),
 * each committed alone, FLOOR_IN_FLIGHT reports at a time (the server's
 * PostgreSQL pool size; SQLite has one writer anyway), from this process —
 * no websocket, no server. Rewrites the values the rows already hold.
 */
async function writeFloor(dbFlags: readonly string[], activationId: string): Promise<{ ms: number; commits: number }> {
  const { db, close } = await openServerDatabase(dbFlags);
  try {
    const rows = await db.selectFrom('deployments').select(['id', 'agent_id']).where('activation_id', '=', activationId).execute();
    const report = async (r: { id: string; agent_id: string }) => {
      await db
        .updateTable('deployments')
        .set((eb) => ({ started_at: eb.ref('started_at') }))
        .where('id', '=', r.id)
        .execute();
      await db.transaction().execute(async (tx) => {
        await tx
          .updateTable('deployments')
          .set((eb) => ({ finished_at: eb.ref('finished_at') }))
          .where('id', '=', r.id)
          .execute();
        await tx
          .updateTable('agents')
          .set((eb) => ({ current_store_path: eb.ref('current_store_path') }))
          .where('id', '=', r.agent_id)
          .execute();
      });
    };
    const at = monotonicMs();
    let next = 0;
    const writer = async () => {
      for (let r = rows[next++]; r !== undefined; r = rows[next++]) await report(r);
    };
    await Promise.all(Array.from({ length: FLOOR_IN_FLIGHT }, writer));
    return { ms: monotonicMs() - at, commits: rows.length * 2 };
  } finally {
    await close();
  }
}

export async function rolloutPhase(label: string, dbFlags: readonly string[], workDir: string, row: AddRow): Promise<void> {
  await withFleet(`rollout ${label}`, dbFlags, workDir, async (fleet) => {
    const n = fleet.targets.length;
    const tag = `[${label}]`;
    const regNote = fleet.failed > 0 ? `; ${fleet.failed} FAILED, first: ${fleet.firstError}` : '';
    row(`${tag} rollout fleet: connect + register`, ms(fleet.connectMs), 'ms', `${fleet.registered}/${AGENTS} simulated agents${regNote}; ${fleet.workerNote}`);

    // The physical limit: the same orders delivered and reported, no rollout — before and after the rollout
    // (the first activation on a fresh server also pays for warming up), the faster of the two counts.
    const everyAgent = (path: string) => Object.fromEntries(fleet.targets.map((a) => [a, path]));
    const plainRound = async (when: string) => {
      progress(`rollout ${label}: plain activation of ${n} agents (the limit, ${when})`);
      const before = await succeededTotal(fleet);
      const r = await round(fleet, { agents: everyAgent(fakeStorePath()) });
      return {
        round: r,
        ms: r.endAt - r.post.at,
        cpu: cpuAt(r.samples, r.endAt) - cpuAt(r.samples, r.post.at),
        rss: peakRss(r.samples, r.post.at, r.endAt),
        ok: (await succeededTotal(fleet)) - before,
        missing: r.answers.filter((a) => a.ackAt === null).length,
      };
    };
    const plain1 = await plainRound('before the rollout');
    progress(`rollout ${label}: the database's write floor for ${n} reports`);
    const floor = await writeFloor(dbFlags, plain1.round.post.activationId);
    progress(`rollout ${label}: rollout of ${n} agents in waves ${WAVES.join('%, ')}%`);
    const succeeded0 = await succeededTotal(fleet);
    const spec = { agents: everyAgent(fakeStorePath()), rollout: { waves: WAVES.map((percent) => ({ percent })) } };
    const roll = await round(fleet, spec);
    // The engine marks the rollout completed in a step after the last report: wait for it (bounded).
    const viewTimes: number[] = [];
    const getView = async () => {
      const at = monotonicMs();
      const v = await apiGet<ActivationView>(fleet, `/activations/${roll.post.activationId}`);
      viewTimes.push(monotonicMs() - at);
      return v;
    };
    let view = await getView();
    for (let i = 0; i < 120 && view.activation?.rollout?.state === 'running'; i++) {
      await sleep(250);
      view = await getView();
    }
    const settledMs = monotonicMs() - roll.endAt;
    const rolloutOk = (await succeededTotal(fleet)) - succeeded0;
    const plain2 = await plainRound('after the rollout');
    const plain = plain2.ms < plain1.ms ? plain2 : plain1;
    const plainMs = plain.ms;
    const plainCpu = plain.cpu;
    const perAgentMs = plainMs / n;
    const bad = [plain1, plain2]
      .map((p) => (p.ok !== n || p.missing > 0 ? `; a plain activation had ${p.ok}/${n} Succeeded, ${p.missing} NOT acked` : ''))
      .join('');
    row(
      `${tag} limit: plain activation, POST → all Succeeded`,
      ms(plainMs),
      'ms',
      `${n} orders delivered + reported, no rollout; the faster of before / after the rollout: ${ms(plain1.ms)} / ${ms(plain2.ms)} ms, ` +
        `server CPU ${secs(plain1.cpu)} / ${secs(plain2.cpu)}, peak RSS ${mib(plain1.rss)} / ${mib(plain2.rss)} MiB${bad}`,
    );
    row(
      `${tag} limit: database writes of ${n} reports`,
      ms(floor.ms),
      'ms',
      `${floor.commits} commits (started; finished + agent's path), ${FLOOR_IN_FLIGHT} reports at a time from the bench, no server; ` +
        `${((floor.commits / floor.ms) * 1000).toFixed(0)} commits/s; plain activation = ${(plainMs / floor.ms).toFixed(2)}× this`,
    );
    const waves = wavesOf(view);
    const byName = new Map(roll.answers.map((a) => [a.name, a]));
    let previousEnd = roll.post.at;
    let waveSum = 0;
    let gapSum = 0;
    waves.forEach((names, k) => {
      const deploys = span(names.map((a) => byName.get(a)?.deployAt ?? null));
      const acks = span(names.map((a) => byName.get(a)?.ackAt ?? null));
      const took = acks.last - deploys.first;
      const gap = deploys.first - previousEnd;
      const cpu = cpuAt(roll.samples, acks.last) - cpuAt(roll.samples, deploys.first);
      const gapCpu = cpuAt(roll.samples, deploys.first) - cpuAt(roll.samples, previousEnd);
      const limit = perAgentMs * names.length;
      waveSum += took;
      gapSum += gap;
      row(
        k === 0 ? `${tag} wave 1 start: POST → first order` : `${tag} gap wave ${k} → ${k + 1}: last Succeeded → first order`,
        ms(gap),
        'ms',
        `engine overhead; server CPU meanwhile ${secs(gapCpu)}` +
          (k === 0 ? `; the POST (creating ${n} deployments) answered after ${ms(roll.post.ms)} ms` : ''),
      );
      row(
        `${tag} wave ${k + 1}/${waves.length} (${WAVES[k] ?? '?'}%, ${names.length} agents): release → all Succeeded`,
        ms(took),
        'ms',
        `server CPU ${secs(cpu)}, peak RSS ${mib(peakRss(roll.samples, deploys.first, acks.last))} MiB; orders out over ${ms(deploys.last - deploys.first)} ms; ` +
          `limit at the plain rate ${ms(limit)} ms → ${(took / limit).toFixed(2)}×` +
          (deploys.missing + acks.missing > 0 ? `; ${deploys.missing} got NO order, ${acks.missing} NOT acked` : ''),
      );
      previousEnd = acks.last;
    });
    const total = roll.endAt - roll.post.at;
    const totalCpu = cpuAt(roll.samples, roll.endAt) - cpuAt(roll.samples, roll.post.at);
    const state = view.activation?.rollout?.state ?? 'no rollout in the view';
    row(
      `${tag} rollout, ${waves.length} waves: POST → all Succeeded`,
      ms(total),
      'ms',
      `${(total / plainMs).toFixed(2)}× the plain activation (limit); waves ${ms(waveSum)} ms + gaps ${ms(gapSum)} ms; ` +
        `${rolloutOk}/${n} Succeeded in the API, rollout ${state} (${viewTimes.length} view GET(s), the last ${ms(settledMs)} ms after the last Succeeded)`,
    );
    row(
      `${tag} rollout server CPU, ${n} agents`,
      secs(totalCpu).replace(' s', ''),
      's',
      `${(totalCpu / plainCpu).toFixed(2)}× the plain activation's ${secs(plainCpu)}; ${((totalCpu * 1000) / n).toFixed(0)} µs per agent; ` +
        `peak RSS ${mib(peakRss(roll.samples, roll.post.at, roll.endAt))} MiB (${fleet.workerNote})`,
    );
    row(
      `${tag} GET activation view, ${n} deployments`,
      ms(Math.min(...viewTimes)),
      'ms',
      `GET /api/v1/activations/:id once the last agent reported (what the rollout page loads); fastest of ${viewTimes.length}: ${viewTimes.map(ms).join(', ')} ms`,
    );
    if (rolloutOk !== n || state !== 'completed') throw new Error(`rollout ended ${state} with ${rolloutOk}/${n} Succeeded`);
    await fleet.checkAlive();
  });
}
