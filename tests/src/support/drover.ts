/**
 * Test support for running the real `drover` binary: servers on SQLite or
 * PostgreSQL, agents, `activate`, and the small waits that end-to-end tests
 * need. Every process is spawned from bin/drover exactly as a user would,
 * and every wait is bounded in time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeWith, DroverClient } from '@drover/client';
import type { Decoder } from '@drover/protocol';
import { droverBin, dropSchema, freePort, run, waitFor, type RunResult } from '@drover/test-support';

export { freePort, waitFor } from '@drover/test-support';
const DROVER = droverBin();
export const PG_URL = process.env['DROVER_TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export type BackendKind = 'sqlite' | 'postgres';

/** Where a server keeps its state; `flags` work for `drover server` and the admin commands. */
export interface Backend {
  readonly kind: BackendKind;
  readonly flags: readonly string[];
  cleanup(): Promise<void>;
}

export async function makeBackend(kind: BackendKind, dir: string): Promise<Backend> {
  if (kind === 'sqlite') {
    const dataDir = join(dir, 'data');
    await mkdir(dataDir, { recursive: true });
    return { kind, flags: ['--data-dir', dataDir], cleanup: async () => {} };
  }
  const schema = `drover_e2e_${randomBytes(6).toString('hex')}`;
  return {
    kind,
    flags: ['--database-url', PG_URL, '--database-schema', schema],
    cleanup: () => dropSchema(PG_URL, schema),
  };
}

/** A running drover process whose combined output is kept for assertions. */
export class DroverProcess {
  output = '';
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (this.output += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (this.output += c));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve((this.exitCode = code))));
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  async waitForOutput(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    return waitFor(
      `${this.name} to print ${pattern}`,
      () => {
        if (!this.running && !pattern.test(this.output)) throw new Error(`${this.name} exited (${this.exitCode}) before printing ${pattern}:\n${this.output}`);
        return this.output.match(pattern);
      },
      timeoutMs,
    );
  }

  /** Sends `signal` and waits for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Runs `node SCRIPT ARGS…`: bin/drover unless another drover (e.g. the
 * single-file agent) is given. Agents started here run their deployments in
 * their own cgroup (DROVER_RUNNER_SCOPE=off): a test run that is itself a
 * systemd service (a CI runner) must not leave runner scopes on the host's
 * systemd; the runner scope is the real-systemd suite's (tests/src/systemd).
 */
export function spawnDrover(name: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, script: string = DROVER): DroverProcess {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, DROVER_LOG_LEVEL: process.env['DROVER_TEST_LOG_LEVEL'] ?? 'info', DROVER_RUNNER_SCOPE: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new DroverProcess(name, child);
}

/** `drover agent ARGS` run through `wrapper` (setpriv, unshare, …) with exactly `env` (nothing of this process's). */
export function spawnAgentVia(label: string, wrapper: readonly string[], args: readonly string[], env: NodeJS.ProcessEnv): DroverProcess {
  const argv = [...wrapper, process.execPath, DROVER, 'agent', ...args];
  const child = spawn(argv[0]!, argv.slice(1), { env: { DROVER_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new DroverProcess(label, child);
}

/** A wrapper for spawnAgentVia: a UTS namespace whose host name is `name`, so two agents of this machine look like two machines (absolute paths: the agent's PATH may be empty). */
export const onHost = (name: string): string[] => ['/usr/bin/unshare', '--uts', '/bin/sh', '-c', `/usr/bin/hostname ${name} && exec "$0" "$@"`];

export function drover(args: readonly string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<RunResult> {
  return run(process.execPath, [DROVER, ...args], { env: { ...process.env, ...env }, ...(input === undefined ? {} : { input }) });
}

export interface ServerHandle {
  readonly url: string;
  readonly port: number;
  proc: DroverProcess;
  /** Kills the server (SIGKILL when `hard`) and starts it again on the same port. */
  restart(hard?: boolean): Promise<void>;
  stop(): Promise<void>;
}

export async function startServer(backend: Backend, extra: readonly string[] = []): Promise<ServerHandle> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const launch = async () => {
    const proc = spawnDrover(`server:${port}`, ['server', '--listen', `127.0.0.1:${port}`, ...backend.flags, ...extra]);
    await proc.waitForOutput(/drover server ready at/);
    return proc;
  };
  const handle: ServerHandle = {
    url,
    port,
    proc: await launch(),
    async restart(hard = false) {
      await handle.proc.stop(hard ? 'SIGKILL' : 'SIGTERM');
      handle.proc = await launch();
    },
    stop: () => handle.proc.stop(),
  };
  return handle;
}

/** `drover token create`, against the backend directly; returns the token. */
export async function createToken(backend: Backend, kind: string, extra: readonly string[] = []): Promise<string> {
  const r = await drover(['token', 'create', '--kind', kind, ...backend.flags, ...extra]);
  if (r.code !== 0) throw new Error(`token create failed (${r.code}): ${r.stderr}`);
  return r.stdout.trim();
}

export interface AgentSpec {
  readonly server: string;
  readonly token: string;
  readonly profile: string;
  readonly stateDir: string;
  readonly extraArgs?: readonly string[];
  /** The drover to run instead of bin/drover (the single-file agent). */
  readonly script?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export async function startAgent(name: string, spec: AgentSpec, waitRegistered = true): Promise<DroverProcess> {
  const proc = spawnDrover(
    `agent:${name}`,
    ['agent', name, '--server', spec.server, '--profile', spec.profile, '--state-dir', spec.stateDir, ...(spec.extraArgs ?? [])],
    spec.env ?? { DROVER_AGENT_TOKEN: spec.token },
    spec.script,
  );
  if (waitRegistered) await proc.waitForOutput(/registered with the server/);
  return proc;
}

/**
 * One API request through the shared client, whatever its status: the status and the JSON answer, checked by `decode`
 * when given, else unchecked (tests assert on error bodies too). A string body is sent as it is, with content-type JSON.
 */
export async function api<T = unknown>(
  server: string,
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
  decode?: Decoder<T>,
): Promise<{ status: number; json: T }> {
  const client = new DroverClient({ server, token });
  const res = await client.send(method, path, typeof body === 'string' ? { body, headers: { 'content-type': 'application/json' } } : { json: body });
  const text = await res.text();
  return { status: res.status, json: decodeWith(decode, text ? JSON.parse(text) : null) };
}

export function randomName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}
