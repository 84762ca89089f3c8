/**
 * One attempt of each kind of health check (drover-checks.json): null when
 * it passed, else a short reason. Every attempt is bounded by the check's
 * timeout; `systemctl` is the one on PATH.
 */
import { connect } from 'node:net';
import { formatCommand, runCommand, type OutputStream } from '@drover/nix';
import { formatDuration, type HealthCheck } from '@drover/protocol';

export type Probe = (check: HealthCheck, onLine: (stream: OutputStream, text: string) => void) => Promise<string | null>;

const lastLine = (lines: readonly string[]) =>
  [...lines]
    .reverse()
    .find((l) => l.trim() !== '')
    ?.trim();

async function unitActive(unit: string, timeoutMs: number): Promise<string | null> {
  const result = await runCommand({ argv: ['systemctl', 'is-active', unit] }, { captureStdout: true, timeoutMs });
  if (result.timedOut) return `systemctl is-active ${unit} did not answer within ${formatDuration(timeoutMs)}`;
  if (result.code === 0) return null;
  if (result.code === 127) return `cannot run systemctl: ${lastLine(result.stderrTail) ?? 'not found'} (unit checks need systemd)`;
  return `unit ${unit} is ${result.stdout.trim() || 'not active'}`;
}

async function noFailedUnits(timeoutMs: number): Promise<string | null> {
  const result = await runCommand({ argv: ['systemctl', '--failed', '--no-legend', '--plain'] }, { captureStdout: true, timeoutMs });
  if (result.timedOut) return `systemctl --failed did not answer within ${formatDuration(timeoutMs)}`;
  if (result.code !== 0) return `systemctl --failed exited with code ${String(result.code)}: ${lastLine(result.stderrTail) ?? 'no output'}`;
  const failed = result.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((u) => u !== '');
  return failed.length === 0 ? null : `failed units: ${failed.slice(0, 10).join(', ')}${failed.length > 10 ? ` and ${String(failed.length - 10)} more` : ''}`;
}

async function httpOk(url: string, timeoutMs: number): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.status >= 200 && res.status < 300 ? null : `${url} answered HTTP ${String(res.status)}`;
  } catch (err) {
    const e = err as Error & { cause?: { message?: string } };
    if (e.name === 'TimeoutError') return `${url} did not answer within ${formatDuration(timeoutMs)}`;
    return `${url}: ${e.cause?.message ?? e.message}`;
  }
}

function tcpOpen(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (reason: string | null) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutMs, () => done(`no TCP connection to ${host}:${String(port)} within ${formatDuration(timeoutMs)}`));
    socket.once('connect', () => done(null));
    socket.once('error', (err) => done(`cannot connect to ${host}:${String(port)}: ${err.message}`));
  });
}

async function commandOk(
  argv: readonly [string, ...string[]],
  timeoutMs: number,
  onLine: (stream: OutputStream, text: string) => void,
): Promise<string | null> {
  const result = await runCommand({ argv }, { timeoutMs, onLine });
  if (result.timedOut) return `${formatCommand(argv)} did not finish within ${formatDuration(timeoutMs)} and was killed`;
  if (result.code === 0) return null;
  const last = lastLine(result.stderrTail);
  return `${formatCommand(argv)} ${result.signal ? `was killed by ${result.signal}` : `exited with code ${String(result.code)}`}${last ? `: ${last}` : ''}`;
}

/** One attempt of `check`. */
export const probe: Probe = (check, onLine) => {
  switch (check.type) {
    case 'unit':
      return unitActive(check.unit, check.timeoutMs);
    case 'no-failed-units':
      return noFailedUnits(check.timeoutMs);
    case 'http':
      return httpOk(check.url, check.timeoutMs);
    case 'tcp':
      return tcpOpen(check.host, check.port, check.timeoutMs);
    case 'command':
      return commandOk(check.argv as [string, ...string[]], check.timeoutMs, onLine);
  }
};
