/**
 * Running a command and streaming its output line by line.
 *
 * Every Nix invocation and activation script goes through `runCommand`, so
 * each of them is echoed and each stdout/stderr line reaches the deployment
 * log as it happens, not when the command ends. A command with a timeout
 * runs in a process group of its own, and the whole group is killed when
 * the timeout passes, so a hung activation cannot leave children behind.
 */
import { spawn } from 'node:child_process';

export type OutputStream = 'stdout' | 'stderr';

export interface Command {
  readonly argv: readonly [string, ...string[]];
  /** Extra environment for this command only. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last stderr lines (at most 20), for error messages. */
  readonly stderrTail: readonly string[];
  /** All stdout, when `captureStdout` was asked for. */
  readonly stdout: string;
  /** The timeout passed and the command's process group was killed. */
  readonly timedOut: boolean;
}

/** How long a killed command's output is waited for before giving up on processes that left its group. */
const KILLED_OUTPUT_GRACE_MS = 2000;

export interface RunOptions {
  readonly onLine?: (stream: OutputStream, text: string) => void;
  readonly captureStdout?: boolean;
  /** Kill the command and everything it started (its process group, SIGKILL) after this. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
  /** Aborting it stops the command (SIGTERM). */
  readonly signal?: AbortSignal;
}

/** Shell-like rendering of argv for the log (`$ nix-env -p … --set …`). */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function lineSplitter(emit: (line: string) => void) {
  let rest = '';
  return {
    push(chunk: string) {
      rest += chunk;
      let nl = rest.indexOf('\n');
      while (nl >= 0) {
        emit(rest.slice(0, nl).replace(/\r$/, ''));
        rest = rest.slice(nl + 1);
        nl = rest.indexOf('\n');
      }
    },
    flush() {
      if (rest.length > 0) emit(rest);
      rest = '';
    },
  };
}

export function runCommand(command: Command, options: RunOptions = {}): Promise<CommandResult> {
  const [file, ...args] = command.argv;
  return new Promise((resolve) => {
    const stderrTail: string[] = [];
    let stdout = '';
    const grouped = options.timeoutMs !== undefined;
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...command.env },
      cwd: options.cwd,
      // Its own process group (and session), so a timeout can kill all it started.
      detached: grouped,
    });
    let timedOut = false;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    const killGroup = () => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      if (exited) afterKill(exited);
    };
    // A process that left the group (setsid) may hold the pipes open: stop waiting for them.
    const afterKill = (status: { code: number | null; signal: NodeJS.Signals | null }) =>
      setTimeout(() => finish(status.code, status.signal), KILLED_OUTPUT_GRACE_MS).unref();
    const timer = grouped ? setTimeout(killGroup, options.timeoutMs) : undefined;
    const stop = () => child.kill('SIGTERM');
    options.signal?.addEventListener('abort', stop, { once: true });
    const out = lineSplitter((line) => options.onLine?.('stdout', line));
    const err = lineSplitter((line) => {
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
      options.onLine?.('stderr', line);
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (options.captureStdout) stdout += chunk;
      out.push(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => err.push(chunk));
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', stop);
      out.flush();
      err.flush();
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ code, signal, stderrTail, stdout, timedOut });
    };
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      if (timedOut) afterKill(exited);
    });
    child.on('error', (e) => {
      const line = `cannot run ${file}: ${e.message}`;
      stderrTail.push(line);
      options.onLine?.('stderr', line);
      finish(127, null);
    });
    child.on('close', finish);
  });
}

/** A one-line description of why a command failed, for a deployment's reason. */
export function describeFailure(command: Command, result: CommandResult): string {
  const what = result.signal ? `was killed by ${result.signal}` : `exited with code ${String(result.code)}`;
  const last = [...result.stderrTail].reverse().find((l) => l.trim() !== '');
  return `${formatCommand(command.argv)} ${what}${last ? `: ${last.trim()}` : ''}`;
}
