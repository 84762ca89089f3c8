/**
 * `BENCH_PERF=1`: where the server's CPU went, counted by Linux perf, as
 * rows of the table — for the registration and the first activation of the
 * fan-out phase.
 *
 * The server runs under `--perf-prof --interpreted-frames-native-stack`
 * (V8 writes `jit-PID.dump` into its working directory, a scratch folder
 * here), `perf record -k 1 -g -e cpu-clock` follows every server process
 * (all threads: V8's compiler and GC threads too) while the window lasts,
 * and `perf inject --jit` names each JavaScript frame. Every sample is CPU
 * time; V8's own `--cpu-prof` samples the wall clock and charges a
 * descheduled process to whatever it was running (bench/README.md, eighth
 * pass). A sample is charged to the package of its nearest JavaScript
 * frame (`kysely`, `node:streams`, `drover:server/hub`), SQLite's native
 * code and V8's compiler and collector to their own lines. perf and
 * `--perf-prof` slow the server by a few percent: the run's other rows are
 * figures under perf.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringEnv } from './env.js';
import { run } from './proc.js';

const PERF_KNOB = stringEnv('BENCH_PERF');
export const PERF = PERF_KNOB !== undefined && PERF_KNOB !== '0';

/** Node flags the server needs for perf to name its JavaScript frames. */
export const PERF_NODE_FLAGS: readonly string[] = PERF ? ['--perf-prof', '--interpreted-frames-native-stack'] : [];

/** The scratch folder the server runs in under BENCH_PERF (its jit dumps) and perf writes into. */
export function perfDir(workDir: string): string {
  const dir = join(workDir, 'perf');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Fails with the fix when perf cannot run here. */
export async function requirePerf(): Promise<void> {
  const r = await run('perf', ['--version']).catch((err: unknown) => ({ code: -1, stdout: '', stderr: String(err) }));
  if (r.code !== 0) throw new Error(`BENCH_PERF needs Linux perf (${r.stderr.trim() || `exit ${r.code}`}); install it: apt-get install linux-perf`);
}

export interface PerfWindow {
  /** Ends the recording; resolves with the share of the samples by package. */
  stop(): Promise<Split>;
}

/** Samples by what they were charged to, most first. */
export interface Split {
  readonly samples: number;
  readonly shares: readonly { readonly what: string; readonly samples: number }[];
}

/** Starts `perf record` on these processes; `name` names its files in `dir`. */
export function recordPerf(pids: readonly number[], dir: string, name: string): PerfWindow {
  const data = join(dir, `${name}.data`);
  const child: ChildProcess = spawn('perf', ['record', '-k', '1', '-g', '-e', 'cpu-clock', '-F', '499', '-p', pids.join(','), '-o', data], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => {
      stderr += err.message;
      resolve({ code: 127, signal: null });
    });
  });
  return {
    async stop() {
      child.kill('SIGINT');
      // perf record writes its data on SIGINT and ends by that signal.
      const { code, signal } = await exited;
      if (code !== 0 && signal !== 'SIGINT') throw new Error(`perf record ended (${signal ?? `exit ${code}`}): ${stderr.trim()}`);
      const injected = join(dir, `${name}.jit.data`);
      const inject = await run('perf', ['inject', '--jit', '-i', data, '-o', injected], { cwd: dir });
      if (inject.code !== 0) throw new Error(`perf inject --jit failed (${inject.code}): ${inject.stderr.trim().slice(-500)}`);
      return splitByPackage(injected, dir);
    },
  };
}

/** What one frame's JavaScript belongs to: a package, a node builtin module, or a Drover module. */
function packageOf(frame: string): string {
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame);
  if (dependency) return dependency[1]!;
  const drover = /packages\/(\w+)\/dist\/src\/([\w-]+)/.exec(frame);
  if (drover) return `drover:${drover[1]}/${drover[2]}`;
  const builtin = /node:(?:internal\/)?([\w_]+)/.exec(frame);
  return builtin ? `node:${builtin[1]}` : 'other JavaScript';
}

/** One sample's stack, leaf first, charged to one line. */
function charge(stack: readonly string[]): string {
  for (let i = 0; i < stack.length; i++) {
    const frame = stack[i]!;
    if (!frame.startsWith('JS:')) continue;
    const native = stack.slice(0, i);
    if (native.some((f) => f.startsWith('Statement::') || f.startsWith('sqlite3'))) return 'SQLite (native)';
    return packageOf(frame);
  }
  const all = stack.join(' ');
  if (/OptimizingCompileDispatcher|Compiler|compiler::/.test(all)) return 'V8 compiler (no JavaScript above)';
  if (/Scaveng|MarkCompact|Sweep|Heap::|ConcurrentMarking/.test(all)) return 'V8 garbage collector';
  if (/uv_run|uv__/.test(all)) return 'libuv and node C++ (no JavaScript above)';
  return 'other native';
}

/** Reads `perf script` of the injected data: every sample charged, counted. */
async function splitByPackage(data: string, dir: string): Promise<Split> {
  const child = spawn('perf', ['script', '-F', 'pid,ip,sym', '-i', data], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
  const counts = new Map<string, number>();
  let samples = 0;
  let stack: string[] = [];
  const flush = () => {
    if (stack.length === 0) return;
    samples++;
    const what = charge(stack);
    counts.set(what, (counts.get(what) ?? 0) + 1);
    stack = [];
  };
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.startsWith('\t')) {
      const frame = /^\t\s*[0-9a-f]+ (.*)$/.exec(line)?.[1];
      if (frame) stack.push(frame);
    } else flush();
  }
  flush();
  const shares = [...counts].map(([what, n]) => ({ what, samples: n })).sort((a, b) => b.samples - a.samples);
  return { samples, shares };
}

/** "21.3 % V8 compiler · 12.1 % kysely · …", the first `top` of them. */
export function describeSplit(split: Split, top = 10): string {
  return split.shares
    .slice(0, top)
    .map((s) => `${((100 * s.samples) / Math.max(1, split.samples)).toFixed(1)} % ${s.what}`)
    .join(' · ');
}
