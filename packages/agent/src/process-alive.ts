/**
 * Whether a process recorded earlier is still the same live process. A PID
 * alone can be reused after a crash or reboot, so on Linux the kernel's
 * start time of the process is recorded with it and compared.
 */
import { readFileSync } from 'node:fs';

export interface ProcessStamp {
  readonly pid: number;
  /** Start time in clock ticks since boot (Linux), or 0 where unknown. */
  readonly start: number;
}

function startTimeOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : null;
  } catch {
    return null;
  }
}

export function stampOf(pid: number = process.pid): ProcessStamp {
  return { pid, start: startTimeOf(pid) ?? 0 };
}

export function formatStamp(stamp: ProcessStamp): string {
  return `${stamp.pid} ${stamp.start}`;
}

export function parseStamp(text: string): ProcessStamp | null {
  const m = /^(\d+) (\d+)\s*$/.exec(text);
  return m ? { pid: Number(m[1]), start: Number(m[2]) } : null;
}

export function isAlive(stamp: ProcessStamp): boolean {
  try {
    process.kill(stamp.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform !== 'linux' || stamp.start === 0) return true;
  const start = startTimeOf(stamp.pid);
  if (start === null) return false;
  // A zombie (exited, not yet reaped) still has /proc/PID: treat it as dead.
  try {
    const state = readFileSync(`/proc/${stamp.pid}/stat`, 'utf8');
    if (state.slice(state.lastIndexOf(')') + 2).startsWith('Z')) return false;
  } catch {
    return false;
  }
  return start === stamp.start;
}
