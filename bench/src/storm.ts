/**
 * The reconnect storm (`BENCH_PHASES=storm`): BENCH_AGENTS simulated agents
 * registered, then every server process is killed (SIGKILL: no goodbye, as
 * a crash or a power cut) and the server is started again on the same port
 * and database. The agents reconnect as the real one does (load.ts
 * `reconnect`: its backoff with jitter, each on its own timer), and the
 * phase reports how long until every one registered again, the failed
 * attempts (refused while the server was down, and any other error), the
 * restarted server's CPU and the error lines of its log.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from '@drover/test-support';
import { AGENTS, SERVER_NODE_FLAGS, WORKERS, progress } from './env.js';
import { startDroverServer, withFleet, type Server } from './fleet.js';
import { timesLimit, type LimitFigures } from './limit.js';
import { monotonicMs } from './load.js';
import { tcpCounters, tcpCountersSince } from './netstat.js';
import { cpuMsSum, openFiles, processTree } from './proc.js';
import { ms, type AddRow } from './table.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The most open files each process held, sampled while the storm runs: how close each worker came to its limit. */
class OpenFilesPeak {
  static readonly everyMs = 1_000;
  readonly peaks: number[];
  last: number[];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pids: readonly number[]) {
    this.peaks = pids.map(() => 0);
    this.last = this.peaks;
    this.timer = setInterval(() => this.sample(), OpenFilesPeak.everyMs);
  }

  private sample(): void {
    this.last = this.pids.map((pid, i) => {
      const n = alive(pid) ? openFilesOr0(pid) : 0;
      this.peaks[i] = Math.max(this.peaks[i]!, n);
      return n;
    });
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
}

function openFilesOr0(pid: number): number {
  try {
    return openFiles(pid);
  } catch {
    return 0;
  }
}

/** Log lines at pino's error level (50) or above. */
async function errorLines(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => /"level":(5\d|60)/.test(l));
}

export async function stormPhase(label: string, dbFlags: readonly string[], workDir: string, row: AddRow, limit: LimitFigures | undefined): Promise<void> {
  const rejoinTimeoutMs = Math.max(180_000, AGENTS * 3);
  await withFleet(
    `storm ${label}`,
    dbFlags,
    workDir,
    async (fleet) => {
      row(
        `[${label}] storm: agents registered before the kill`,
        String(fleet.registered),
        'agents',
        `in ${ms(fleet.connectMs)} ms${fleet.failed > 0 ? `; ${fleet.failed} FAILED, first: ${fleet.firstError}` : ''}`,
      );
      fleet.send('storm');
      await fleet.reports(/^(\{"type":"stormed"\})\n/m, 'stormed', 30_000);
      progress(`storm ${label}: killing server process(es) ${fleet.serverPids.join(', ')} (SIGKILL)`);
      const killedAt = monotonicMs();
      const countersAtKill = tcpCounters();
      for (const pid of fleet.serverPids) process.kill(pid, 'SIGKILL');
      await fleet.server.proc.exited;
      for (let i = 0; i < 100 && fleet.serverPids.some(alive); i++) await sleep(50);
      let restarted: Server | undefined;
      try {
        const name = `server-storm-${label}-restarted`;
        restarted = await startDroverServer(name, dbFlags, workDir, WORKERS > 1 ? ['--workers', String(WORKERS)] : [], SERVER_NODE_FLAGS, fleet.server.port);
        const readyAt = monotonicMs();
        const pids = processTree(restarted.proc.pid);
        progress(`storm ${label}: restarted in ${ms(readyAt - killedAt)} ms after the kill; waiting for every agent to register again`);
        fleet.send(`rejoin ${rejoinTimeoutMs}`);
        const files = new OpenFilesPeak(pids.slice(WORKERS > 1 ? 1 : 0));
        const reports = await fleet.reports(/^(\{"type":"rejoined".*)\n/m, 'rejoined', rejoinTimeoutMs + 30_000).finally(() => files.stop());
        if (!restarted.proc.running) throw new Error(`the restarted server exited during the storm; its last output:\n${restarted.proc.tail(20)}`);
        const cpu = cpuMsSum(pids);
        const counters = tcpCountersSince(countersAtKill);
        const sum = (k: 'lost' | 'rejoined' | 'attempts' | 'refused' | 'errors') => reports.reduce((n, r) => n + r[k], 0);
        const lastAt = Math.max(...reports.map((r) => r.lastAt ?? NaN));
        const lost = sum('lost');
        const rejoined = sum('rejoined');
        const firstError = reports.find((r) => r.firstError)?.firstError ?? null;
        const kinds = new Map<string, number>();
        for (const r of reports) for (const [k, n] of Object.entries(r.errorKinds)) kinds.set(k, (kinds.get(k) ?? 0) + n);
        const errorKinds = [...kinds]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 4)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ');
        const errorsAfterReady = binBySeconds(
          reports.flatMap((r) => r.errorAt.map((at) => at - readyAt)),
          5,
        );
        const logErrors = await errorLines(join(workDir, `${name}.log`));
        const allBack = rejoined === lost && lost === fleet.registered;
        row(
          `[${label}] storm: kill → all registered again`,
          allBack ? ms(lastAt - killedAt) : 'FAILED',
          'ms',
          `${rejoined}/${lost} lost agents back (${fleet.registered} were registered); server ready ${ms(readyAt - killedAt)} ms after the kill` +
            (WORKERS > 1 ? ` (primary + ${WORKERS} workers)` : ''),
        );
        row(
          `[${label}] storm: server ready → all registered again`,
          ms(lastAt - readyAt),
          'ms',
          `${timesLimit(lastAt - readyAt, limit?.connectMs)}${limit ? ' (its connect phase: 64 handshakes in flight per load process)' : ''}; the agents' backoff spreads the attempts`,
        );
        row(
          `[${label}] storm: attempts / refused / errors`,
          `${sum('attempts')} / ${sum('refused')} / ${sum('errors')}`,
          '',
          `refused = the server was down (TCP); errors = anything else${firstError ? `, first: ${firstError.slice(0, 120)}` : ''}${errorKinds ? ` (${errorKinds})` : ''}; ` +
            (errorsAfterReady ? `by time after ready: ${errorsAfterReady}; ` : '') +
            `${logErrors.length} error line(s) in the server log${logErrors[0] ? `, first: ${logErrors[0].slice(0, 160)}` : ''}`,
        );
        const capped = (await readFile(join(workDir, `${name}.log`), 'utf8').catch(() => '')).split('\n').filter((l) => l.includes('"maxConnections"')).length;
        row(
          `[${label}] storm: open files per worker, most / at the end`,
          files.peaks.join(' / '),
          'files',
          `at the end ${files.last.join(' / ')} (sampled every ${OpenFilesPeak.everyMs} ms); ` +
            `${capped} "holds … connections" warning(s) in the log: a worker at its connection cap closes new ones unanswered`,
        );
        row(
          `[${label}] storm: kernel TCP counters`,
          counters,
          '',
          'kill → all back, this network namespace (/proc/net/netstat): connections the listen queue lost, and closed unread',
        );
        row(
          `[${label}] storm: restarted server CPU`,
          ms(cpu),
          'ms',
          `start-up until all registered (${ms(lastAt - readyAt + (readyAt - killedAt))} ms wall): ${((cpu * 1000) / Math.max(1, rejoined)).toFixed(0)} µs per agent; ` +
            `${((cpu / Math.max(1, lastAt - killedAt)) * 100).toFixed(0)}% of one core`,
        );
        if (!allBack) throw new Error(`only ${rejoined} of ${fleet.registered} agents registered again within ${rejoinTimeoutMs} ms`);
      } finally {
        await restarted?.proc.stop();
      }
    },
    { reconnect: true },
  );
}

/** "0–5 s: 12, 5–10 s: 3": how many of `offsetsMs` fall in each `width`-second window (empty windows left out). */
function binBySeconds(offsetsMs: readonly number[], width: number): string {
  const bins = new Map<number, number>();
  for (const at of offsetsMs) {
    const bin = Math.floor(at / 1000 / width);
    bins.set(bin, (bins.get(bin) ?? 0) + 1);
  }
  return [...bins]
    .sort((a, b) => a[0] - b[0])
    .map(([bin, n]) => `${bin * width}–${(bin + 1) * width} s: ${n}`)
    .join(', ');
}
