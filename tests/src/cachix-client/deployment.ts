/**
 * A stand-in for cachix's deployment subprocess (`cachix-deployment`),
 * written from the protocol document: its input on stdin, a per-agent lock
 * (busy: exit at once, saying nothing to the server), two sockets of its own
 * — `/ws-deployment` for DeploymentStarted (twice: before the download
 * with no size, after `nix path-info -S`) and DeploymentFinished, and the
 * log upload socket, one `{line, time}` frame per line — then
 * `nix-store -r`, the profile switch by profile type, the checks (a pong on
 * `/ws-deployment` within 10 s, then the rollbackScript), a rollback to the
 * remembered path when a check fails (none on a first deployment, none when
 * the activation command itself fails, as in cachix), and the final line.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, realpathSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { agentHeaders, cachixNow, controlFrame, END_FAILURE, END_SUCCESS, wsUrl, type SubprocessInput } from './wire.js';

const input = JSON.parse(readFileSync(0, 'utf8')) as SubprocessInput;
const { deployment } = input;

/** The per-agent lock: a file created exclusively, holding our pid; a dead holder's lock is taken over. */
function takeLock(): (() => void) | null {
  const path = join(input.lockDir, `cachix-deployment-${input.agentName}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch {
      const holder = Number(readFileSync(path, 'utf8').trim() || '0');
      try {
        if (holder > 0) process.kill(holder, 0);
        return null;
      } catch {
        rmSync(path, { force: true });
      }
    }
  }
  return null;
}

const release = takeLock();
if (!release) process.exit(0);

function open(path: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(input.host, path), { headers: agentHeaders(input.agentToken, input.agentName), perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode} on ${path}`)));
  });
}

const control = await open('/ws-deployment');
const logSocket = await open(`/api/v1/deploy/log/${deployment.id}`);

function log(line: string): void {
  process.stdout.write(`cachix-deployment: ${line}\n`);
  logSocket.send(JSON.stringify({ line, time: cachixNow() }));
}

function report(method: string, fields: Record<string, unknown>): void {
  control.send(controlFrame(method, { id: deployment.id, time: cachixNow(), ...fields }, input.agentId));
}

/** Runs a command, every output line to the log; its exit code. */
function run(cmd: string, argv: readonly string[]): Promise<{ code: number; stdout: string }> {
  log(`$ ${[cmd, ...argv].join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const lines = (stream: NodeJS.ReadableStream, keep: boolean) => {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        if (keep) stdout += chunk;
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        for (const p of parts) log(p);
      });
      stream.on('end', () => rest && log(rest));
    };
    lines(child.stdout, true);
    lines(child.stderr, false);
    child.on('error', (err) => {
      log(`${cmd}: ${err.message}`);
      resolve({ code: 127, stdout });
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
}

type ProfileType = 'nixos' | 'darwin' | 'home-manager' | 'plain';
function profileType(path: string): ProfileType {
  if (existsSync(join(path, 'nixos-version'))) return 'nixos';
  if (existsSync(join(path, 'darwin-version')) || existsSync(join(path, 'darwin-version.json'))) return 'darwin';
  if (existsSync(join(path, 'hm-version'))) return 'home-manager';
  return 'plain';
}

function profilePath(): string {
  return input.profile.startsWith('/') ? input.profile : `/nix/var/nix/profiles/${input.profile}`;
}

async function activate(path: string): Promise<boolean> {
  if ((await run('nix-env', ['-p', profilePath(), '--set', path])).code !== 0) return false;
  switch (profileType(path)) {
    case 'nixos':
      return (await run(join(path, 'bin', 'switch-to-configuration'), ['switch'])).code === 0;
    case 'darwin':
      return (await run(join(path, 'sw', 'bin', 'darwin-rebuild'), ['activate'])).code === 0;
    case 'home-manager':
      return (await run(join(path, 'activate'), [])).code === 0;
    case 'plain':
      return true;
  }
}

/** The post-activation network check: a pong on /ws-deployment within 10 s. */
function backendReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    control.once('pong', () => {
      clearTimeout(timer);
      resolve(true);
    });
    control.ping();
  });
}

function closureSize(json: string, path: string): number | null {
  try {
    const parsed = JSON.parse(json) as unknown;
    const entry = Array.isArray(parsed) ? (parsed[0] as { closureSize?: number }) : (parsed as Record<string, { closureSize?: number }>)[path];
    return typeof entry?.closureSize === 'number' ? entry.closureSize : null;
  } catch {
    return null;
  }
}

async function deploy(): Promise<boolean> {
  report('DeploymentStarted', { closureSize: null });
  const options = input.cache
    ? ['--option', 'extra-substituters', `${new URL(input.host).protocol}//${input.cache.cacheName}.${new URL(input.host).hostname}`]
    : [];
  const wanted = deployment.rollbackScript ? [deployment.storePath, deployment.rollbackScript] : [deployment.storePath];
  if ((await run('nix-store', ['-r', ...wanted, ...options])).code !== 0) return false;
  const info = await run('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '-S', '--json', deployment.storePath]);
  const size = info.code === 0 ? closureSize(info.stdout, deployment.storePath) : null;
  if (size !== null) report('DeploymentStarted', { closureSize: size });
  let previous: string | null;
  try {
    previous = realpathSync(profilePath());
  } catch {
    previous = null;
  }
  if (!(await activate(deployment.storePath))) return false;
  let failed: string | null = null;
  if (!(await backendReachable())) failed = 'the backend is unreachable after activation';
  else if (deployment.rollbackScript && (await run(deployment.rollbackScript, [])).code !== 0) failed = 'the rollback script failed';
  if (failed === null) return true;
  log(`${failed}.`);
  if (previous === null) log('Skipping rollback as this is the first deployment.');
  else {
    log(`Rolling back to ${previous}`);
    await activate(previous);
  }
  return false;
}

const ok = await deploy().catch((err: unknown) => {
  log(`deployment failed: ${err instanceof Error ? err.message : String(err)}`);
  return false;
});
log(ok ? END_SUCCESS : END_FAILURE);
report('DeploymentFinished', { hasSucceeded: ok });
await new Promise((r) => setTimeout(r, 300));
logSocket.close(1000);
control.close(1000);
release();
process.exit(0);
