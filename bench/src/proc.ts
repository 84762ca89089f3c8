/**
 * Child processes for the benchmark: spawning (node processes directly, so
 * the PID we measure is node's own), bounded waits on their output, memory
 * readings from /proc, and cleanup of everything started — also when the
 * benchmark fails or is interrupted.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { droverBin, exitCodeOf, run as runProcess, sleep, waitFor, type RunOptions, type RunResult } from '@drover/test-support';

export const DROVER = droverBin();

/** Soft open-files limit requested for the server and the load generator (this box's hard limit is 20,000). */
export const WANTED_NOFILE = 20_000;

const live = new Set<ChildProcess>();

/** Registers a child in `live` until it is gone, so `stopAll` and the exit hook reach it. */
function track(child: ChildProcess): void {
  live.add(child);
  child.once('error', () => live.delete(child));
  child.once('close', () => live.delete(child));
}

export interface SpawnOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Extra node flags before the script. */
  readonly nodeFlags?: readonly string[];
  /** Raise the soft open-files limit first (via `bash -c 'ulimit -n …; exec node …'`; the PID stays node's). */
  readonly raiseNofile?: boolean;
  /** Append stdout here instead of keeping it in memory (server and agent logs). */
  readonly stdoutFile?: string;
  /** Keep stdin open as a pipe (the load generator reads commands from it). */
  readonly stdinPipe?: boolean;
  /** The working directory (BENCH_PERF: where the server's jit dumps go). */
  readonly cwd?: string;
}

/** A node child process whose stderr (and stdout unless sent to a file) is kept, capped, for diagnostics. */
export class Proc {
  output = '';
  readonly exited: Promise<number>;
  private code: number | undefined;
  private readonly logStream: WriteStream | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    stdoutFile: string | undefined,
  ) {
    track(child);
    const keep = (c: string) => {
      this.output += c;
      if (this.output.length > 2_000_000) this.output = this.output.slice(-1_000_000);
    };
    if (stdoutFile) {
      const logStream = createWriteStream(stdoutFile, { flags: 'a' });
      this.logStream = logStream;
      child.stdout?.pipe(logStream, { end: false });
      // Its stderr (a crash's stack, say) goes to the log file too, not only to the tail kept here.
      child.stderr?.setEncoding('utf8').on('data', (c: string) => {
        keep(c);
        logStream.write(c);
      });
    } else {
      child.stderr?.setEncoding('utf8').on('data', keep);
      child.stdout?.setEncoding('utf8').on('data', keep);
    }
    this.exited = new Promise((r) => {
      child.on('error', (err) => {
        keep(`\n[spawn error: ${err.message}]\n`);
        r((this.code = 127));
      });
      child.on('close', (code, signal) => r((this.code = exitCodeOf(code, signal))));
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid (failed to start?)`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.code === undefined;
  }

  tail(lines = 15): string {
    return this.output.trim().split('\n').slice(-lines).join('\n');
  }

  async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return waitFor(
      `${this.name} to print ${pattern}`,
      () => {
        const m = this.output.match(pattern);
        if (m) return m;
        if (!this.running) throw new Error(`${this.name} exited (${this.code}) before printing ${pattern}:\n${this.tail()}`);
        return null;
      },
      timeoutMs,
      50,
    );
  }

  /** Like `waitForOutput`, then drops the output up to the end of the match, so the next call finds the next such line, not this one again. */
  async takeOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const m = await this.waitForOutput(pattern, timeoutMs);
    this.output = this.output.slice((m.index ?? 0) + m[0].length);
    return m;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    this.logStream?.end();
  }
}

/** Starts `node [flags] script args…` (optionally with a raised open-files limit). */
export function spawnNode(name: string, script: string, args: readonly string[], opts: SpawnOptions = {}): Proc {
  const nodeArgv = [process.execPath, ...(opts.nodeFlags ?? []), script, ...args];
  const [cmd, ...argv] = opts.raiseNofile
    ? [
        'bash',
        '-c',
        // Raise the soft limit as far as allowed; exec keeps the PID, so it is node's.
        `ulimit -n ${WANTED_NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`,
        'bench-ulimit',
        ...nodeArgv,
      ]
    : nodeArgv;
  const child = spawn(cmd!, argv, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: [opts.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  child.stdin?.on('error', () => undefined);
  return new Proc(name, child, opts.stdoutFile);
}

/** `drover ARGS…` as its own node process. */
export function spawnDrover(name: string, args: readonly string[], opts: SpawnOptions = {}): Proc {
  return spawnNode(name, DROVER, args, opts);
}

/** The shared runner with the benchmark's default limit (5 minutes); `stopAll` stops the child too. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return runProcess(cmd, args, { timeoutMs: 300_000, ...opts, onSpawn: track });
}

export function drover(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<RunResult> {
  return run(process.execPath, [DROVER, ...args], { env, timeoutMs });
}

export interface Memory {
  /** VmRSS, bytes. */
  readonly rss: number;
  /** Private_Clean + Private_Dirty from smaps_rollup, bytes. */
  readonly private: number;
  /** Pss, bytes. */
  readonly pss: number;
}

/** A `Field:   123 kB` line of a /proc file, in bytes. */
function kbField(text: string, field: string, pid: number): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  if (!m) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Memory of one process, from /proc/PID/status and /proc/PID/smaps_rollup. */
export function readMemory(pid: number): Memory {
  const kb = (text: string, field: string) => kbField(text, field, pid);
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return { rss: readStatusBytes(pid, 'VmRSS'), private: kb(rollup, 'Private_Clean') + kb(rollup, 'Private_Dirty'), pss: kb(rollup, 'Pss') };
}

/** Stops every child still running: gently first, then SIGKILL. */
export async function stopAll(graceMs = 5_000): Promise<void> {
  const children = [...live];
  for (const c of children) c.kill('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (live.size > 0 && Date.now() < deadline) await sleep(50);
  for (const c of live) c.kill('SIGKILL');
}

/** Last resort when the benchmark process exits: no child outlives it. */
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** PIDs of `pid`'s children (all threads), from /proc/PID/task/TID/children; [] if it is gone. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
    } catch {
      /* thread gone */
    }
  }
  return out;
}

/** `pid` and its descendants (a `drover server --workers N` primary and its workers), bounded depth. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length && i < 1000; i++) for (const c of childrenOf(out[i]!)) if (!out.includes(c)) out.push(c);
  return out;
}

/** Memory summed over processes (RSS and PSS count shared pages once per process; private is exact). */
export function readMemorySum(pids: readonly number[]): Memory {
  let rss = 0;
  let priv = 0;
  let pss = 0;
  for (const pid of pids) {
    const m = readMemory(pid);
    rss += m.rss;
    priv += m.private;
    pss += m.pss;
  }
  return { rss, private: priv, pss };
}

let clockTicks: number | undefined;

/** CPU time (user + system) a process has used so far, in ms, from /proc/PID/stat. */
export function cpuMs(pid: number): number {
  if (clockTicks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    // stdout is null, despite its type, when getconf could not be started (r.error).
    clockTicks = r.error ? 100 : Number(r.stdout.trim()) || 100;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

export function cpuMsSum(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
}

/** Open file descriptors of a process (sockets included). */
export function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** One field of /proc/PID/status in bytes: VmRSS (resident now) or VmHWM (peak since start or the last `resetPeakRss`). */
export function readStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  return kbField(readFileSync(`/proc/${pid}/status`, 'utf8'), field, pid);
}

/** Resets a process's VmHWM to its current RSS (`echo 5 > /proc/PID/clear_refs`; needs the right to ptrace it). */
export function resetPeakRss(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/**
 * Samples VmRSS every `everyMs` until `stop()`, which returns the peak: the
 * highest sample or VmHWM, whichever is larger (VmHWM catches a spike
 * between samples; reset it first with `resetPeakRss`).
 */
export function sampleRss(pid: number, everyMs = 100): { stop(): { peak: number; samples: number } } {
  const rss = () => readStatusBytes(pid, 'VmRSS');
  let peak = rss();
  let samples = 1;
  const timer = setInterval(() => {
    peak = Math.max(peak, rss());
    samples++;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { peak: Math.max(peak, rss(), readStatusBytes(pid, 'VmHWM')), samples };
    },
  };
}
