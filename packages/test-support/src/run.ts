/**
 * A promise-based process runner that collects a command's output and never
 * throws for a non-zero exit (`runOk` does), bounded in time when asked.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';

export interface RunOptions {
  /** Extra environment, merged over `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** The child's working directory (default: this process's). */
  readonly cwd?: string;
  /** Written to the child's stdin (stdin is closed either way). */
  readonly input?: string;
  /** Kill the child with SIGKILL after this long (no limit when absent). */
  readonly timeoutMs?: number;
  /** Called with the child once spawned (e.g. to stop it when the caller is interrupted). */
  readonly onSpawn?: (child: ChildProcess) => void;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The exit code of a process that ended with `code` or by `signal` (128 + its number). */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  return code ?? 128 + (signal ? osConstants.signals[signal] : 0);
}

/**
 * Runs a command and collects its output. A failure to start (e.g. ENOENT)
 * is reported as code 127 with the error in `stderr`, death by signal as
 * 128 + the signal number, a timeout as the SIGKILL it sent.
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let settled = false;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (code: number, extraErr = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const killed = timedOut ? `\n[killed after ${opts.timeoutMs} ms]\n` : '';
      resolve({
        code,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8') + extraErr + killed,
      });
    };
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ? { ...process.env, ...opts.env } : process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    opts.onSpawn?.(child);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // EPIPE when the child exits without reading its input is not our concern.
    child.stdin.on('error', () => undefined);
    child.on('error', (err) => finish(127, `${cmd}: ${err.message}\n`));
    child.on('close', (code, signal) => finish(exitCodeOf(code, signal)));
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, opts.timeoutMs);
    }
    child.stdin.end(opts.input);
  });
}

/** `CMD ARGS exited with CODE:` and the last 20 lines of its stderr (or stdout). */
export function describeFailure(cmd: string, args: readonly string[], res: RunResult): string {
  const out = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-20).join('\n');
  return `${cmd} ${args.join(' ')} exited with ${res.code}${out ? `:\n${out}` : ''}`;
}

/** {@link run}, throwing {@link describeFailure} for a non-zero exit. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const res = await run(cmd, args, opts);
  if (res.code !== 0) throw new Error(describeFailure(cmd, args, res));
  return res;
}
