/**
 * Test support for Drover integration tests that use the real Nix store.
 *
 * - {@link buildFixtures} builds the sample closures of
 *   `tests/fixtures/make-fixtures.sh` (NixOS / nix-darwin / home-manager /
 *   plain profiles and rollback scripts) and returns their store paths.
 * - {@link startTestCache} runs a signed binary cache served over HTTP on
 *   127.0.0.1, which tests can push closures to and substitute from.
 * - {@link deleteFromStore} / {@link isInStore} remove paths from the local
 *   store so they must be fetched again, and check whether they are there.
 * - {@link readActivations} reads the log the fixture hooks append to.
 * - {@link run} is a small promise-based process runner that never throws on
 *   a non-zero exit.
 *
 * Assumes single-user root Nix as configured by `scripts/setup-nix.sh`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, lstatSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants as osConstants, tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Store paths of the sample closures, keyed like make-fixtures.sh's JSON. */
export interface Fixtures {
  nixos: string;
  nixos_b: string;
  nixos_failing: string;
  nixos_slow: string;
  darwin: string;
  home_manager: string;
  plain: string;
  rollback_ok: string;
  rollback_fail: string;
  /** Absolute directory whose activations.log the hooks append to. */
  markerDir: string;
}

/** A signed binary cache on disk, served over HTTP on 127.0.0.1. */
export interface TestCache {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  url: string;
  /** Public key in Nix's `name:base64` form, for `trusted-public-keys`. */
  publicKey: string;
  /** Directory holding the cache (nix-cache-info, *.narinfo, nar/). */
  dir: string;
  /** Every request served, in order, as `"METHOD /path"`. */
  requests: string[];
  /** Copy the closures of `paths` into the cache, signed with its key. */
  push(paths: string[]): Promise<void>;
  /** Stop serving and delete the cache directory and keys. */
  close(): Promise<void>;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Extra environment, merged over `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin (stdin is closed either way). */
  input?: string;
}

const FIXTURE_SCRIPT = join('tests', 'fixtures', 'make-fixtures.sh');

const FIXTURE_KINDS = [
  'nixos',
  'nixos_b',
  'nixos_failing',
  'nixos_slow',
  'darwin',
  'home_manager',
  'plain',
  'rollback_ok',
  'rollback_fail',
] as const;

/**
 * Run a command and collect its output. Never throws for a non-zero exit:
 * a failure to start (e.g. ENOENT) is reported as code 127 with the error in
 * `stderr`, and death by signal as 128 + the signal number.
 */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let settled = false;
    const finish = (code: number, extraErr = ''): void => {
      if (settled) return;
      settled = true;
      resolvePromise({
        code,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8') + extraErr,
      });
    };

    const child = spawn(cmd, args, {
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // EPIPE when the child exits without reading its input is not our concern.
    child.stdin.on('error', () => undefined);
    child.on('error', (err) => finish(127, `${cmd}: ${err.message}\n`));
    child.on('close', (code, signal) => {
      if (code !== null) finish(code);
      else finish(128 + (signal ? (osConstants.signals[signal] ?? 0) : 0));
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

function describeFailure(cmd: string, args: string[], res: RunResult): string {
  const out = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-20).join('\n');
  return `${cmd} ${args.join(' ')} exited with ${res.code}${out ? `:\n${out}` : ''}`;
}

async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const res = await run(cmd, args, opts);
  if (res.code !== 0) throw new Error(describeFailure(cmd, args, res));
  return res;
}

/**
 * The repository root: `$DROVER_REPO_ROOT` if set, otherwise the nearest
 * ancestor of this module's directory that contains
 * tests/fixtures/make-fixtures.sh.
 */
export function repoRoot(): string {
  const override = process.env['DROVER_REPO_ROOT'];
  if (override) {
    const root = resolve(override);
    if (!existsSync(join(root, FIXTURE_SCRIPT))) {
      throw new Error(`DROVER_REPO_ROOT=${override} does not contain ${FIXTURE_SCRIPT}`);
    }
    return root;
  }
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, FIXTURE_SCRIPT))) return dir;
    if (dirname(dir) === dir) break;
  }
  throw new Error(`cannot find ${FIXTURE_SCRIPT} above ${start}; set DROVER_REPO_ROOT`);
}

/**
 * Build the sample closures (see tests/fixtures/make-fixtures.sh). A fresh
 * random salt (the default) gives store paths no cache or store has yet;
 * `slowSeconds` is how long nixos_slow's activation sleeps (default 20).
 */
export async function buildFixtures(opts: {
  markerDir: string;
  salt?: string;
  slowSeconds?: number;
}): Promise<Fixtures> {
  const script = join(repoRoot(), FIXTURE_SCRIPT);
  const markerDir = resolve(opts.markerDir);
  const args = [script, markerDir];
  if (opts.salt !== undefined) args.push(opts.salt);
  const env: NodeJS.ProcessEnv = {};
  if (opts.slowSeconds !== undefined) env['SLOW'] = String(opts.slowSeconds);
  const res = await runOk('bash', args, { env });

  let parsed: unknown;
  try {
    parsed = JSON.parse(res.stdout);
  } catch {
    throw new Error(`make-fixtures.sh printed invalid JSON: ${res.stdout}`);
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw new Error(`make-fixtures.sh printed ${res.stdout}`);
  }
  const record = parsed as Record<string, unknown>;
  const paths: Partial<Record<(typeof FIXTURE_KINDS)[number], string>> = {};
  for (const kind of FIXTURE_KINDS) {
    const value = record[kind];
    if (typeof value !== 'string' || !value.startsWith('/nix/store/')) {
      throw new Error(`make-fixtures.sh: missing or bad "${kind}" in ${res.stdout}`);
    }
    paths[kind] = value;
  }
  return { ...(paths as Record<(typeof FIXTURE_KINDS)[number], string>), markerDir };
}

/** Lines of MARKER_DIR/activations.log (empty lines dropped); [] if missing. */
export async function readActivations(markerDir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(markerDir, 'activations.log'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text.split('\n').filter((line) => line !== '');
}

/** Whether `path` is a valid (registered and present) path of the local store. */
export function isInStore(path: string): boolean {
  try {
    lstatSync(path);
  } catch {
    return false;
  }
  const res = spawnSync('nix-store', ['--check-validity', path], { stdio: 'ignore' });
  return res.status === 0;
}

const STILL_ALIVE = /Cannot delete path '([^']+)' since it is still alive/i;

/**
 * Delete `paths` and every member of their closures that nothing else needs
 * from the local store, so they have to be substituted again. Dependencies
 * still referenced by other paths (or reachable from GC roots) are kept.
 * Throws if any of `paths` itself is still present afterwards.
 */
export async function deleteFromStore(paths: string[]): Promise<void> {
  const present = paths.filter((p) => isInStore(p));
  if (present.length === 0) return;
  const closure = (await runOk('nix-store', ['--query', '--requisites', ...present])).stdout
    .split('\n')
    .filter((line) => line !== '');
  const candidates = new Set(closure);

  // `nix-store --delete` refuses the whole batch when any one path is alive
  // (rooted, or referenced from outside the batch). Drop the path it names,
  // plus its own closure (which it keeps alive), and try again.
  for (let attempt = 0; attempt <= closure.length && candidates.size > 0; attempt++) {
    const batch = [...candidates].filter((p) => isInStore(p));
    if (batch.length === 0) break;
    const res = await run('nix-store', ['--delete', ...batch]);
    if (res.code === 0) break;
    const alive = STILL_ALIVE.exec(res.stderr)?.[1];
    if (alive === undefined || !candidates.has(alive)) {
      throw new Error(describeFailure('nix-store', ['--delete', ...batch], res));
    }
    const kept = await run('nix-store', ['--query', '--requisites', alive]);
    candidates.delete(alive);
    for (const p of kept.stdout.split('\n')) candidates.delete(p);
  }

  const left = present.filter((p) => isInStore(p));
  if (left.length > 0) {
    const roots = await run('nix-store', ['--query', '--roots', ...left]);
    throw new Error(
      `deleteFromStore: still in the store: ${left.join(' ')}\n` +
        `GC roots keeping them alive:\n${roots.stdout.trim() || '(none found)'}`,
    );
  }
}

function contentType(name: string): string {
  if (name === 'nix-cache-info') return 'text/x-nix-cache-info';
  if (name.endsWith('.narinfo')) return 'text/x-nix-narinfo';
  if (/\.nar(\.[a-z0-9]+)?$/.test(name)) return 'application/x-nix-nar';
  if (name.endsWith('.ls')) return 'application/json';
  return 'application/octet-stream';
}

function sendStatus(res: ServerResponse, status: number, text: string, head: boolean): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(head ? undefined : text);
}

async function serveFile(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const head = method === 'HEAD';
  if (method !== 'GET' && method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    sendStatus(res, 405, 'method not allowed\n', false);
    return;
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    sendStatus(res, 400, 'bad request\n', head);
    return;
  }
  const file = resolve(root, `.${pathname}`);
  if (!file.startsWith(root + sep) || pathname.includes('\0')) {
    sendStatus(res, 404, 'not found\n', head);
    return;
  }
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    sendStatus(res, 404, 'not found\n', head);
    return;
  }
  res.writeHead(200, {
    'content-type': contentType(file.slice(file.lastIndexOf(sep) + 1)),
    'content-length': size,
  });
  if (head) {
    res.end();
    return;
  }
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/**
 * Start a binary cache for tests: a fresh signing key (`KEYNAME-1`, default
 * `drover-test-cache-1`), a `file://` cache directory that `push` fills with
 * `nix copy` (zstd-compressed NARs, signed), and a node:http server on
 * 127.0.0.1:<random port> serving that directory read-only.
 */
export async function startTestCache(opts: { keyName?: string } = {}): Promise<TestCache> {
  const base = await mkdtemp(join(tmpdir(), 'drover-test-cache-'));
  const dir = join(base, 'cache');
  const secretKeyFile = join(base, 'secret-key');
  const publicKeyFile = join(base, 'public-key');
  const keyName = `${opts.keyName ?? 'drover-test-cache'}-1`;
  try {
    await runOk('nix-store', ['--generate-binary-cache-key', keyName, secretKeyFile, publicKeyFile]);
  } catch (err) {
    await rm(base, { recursive: true, force: true });
    throw err;
  }
  const publicKey = (await readFile(publicKeyFile, 'utf8')).trim();
  // Make the empty cache a valid one, so lookups before the first push get
  // clean 404s for narinfos instead of "does not appear to be a binary cache".
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'nix-cache-info'), 'StoreDir: /nix/store\n');

  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    requests.push(`${req.method ?? 'GET'} ${path}`);
    serveFile(dir, req, res).catch(() => {
      if (!res.headersSent) sendStatus(res, 500, 'internal error\n', req.method === 'HEAD');
      else res.destroy();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closed = false;
  return {
    url: `http://127.0.0.1:${port}`,
    publicKey,
    dir,
    requests,
    async push(paths: string[]): Promise<void> {
      if (paths.length === 0) return;
      const to = `file://${dir}?secret-key=${secretKeyFile}&compression=zstd`;
      await runOk('nix', ['copy', '--to', to, ...paths]);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      await rm(base, { recursive: true, force: true });
    },
  };
}
