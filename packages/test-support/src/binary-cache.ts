/**
 * A signed binary cache for tests and benchmarks: a fresh signing key, a
 * `file://` cache directory that `push` fills with `nix copy` (zstd NARs,
 * signed), and a node:http server on 127.0.0.1 serving it read-only.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join, resolve, sep } from 'node:path';
import { runOk } from './run.js';
import { tempDir } from './temp-dir.js';

/** A signed binary cache on disk, served over HTTP on 127.0.0.1. */
export interface TestCache {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  /** Public key in Nix's `name:base64` form, for `trusted-public-keys`. */
  readonly publicKey: string;
  /** Directory holding the cache (nix-cache-info, *.narinfo, nar/). */
  readonly dir: string;
  /** Every request served, in order, as `"METHOD /path"`. */
  readonly requests: string[];
  /** Copy the closures of `paths` into the cache, signed with its key. */
  push(paths: readonly string[]): Promise<void>;
  /** Stop serving and delete the cache directory and keys. */
  close(): Promise<void>;
}

function contentType(name: string): string {
  if (name === 'nix-cache-info') return 'text/x-nix-cache-info';
  if (name.endsWith('.narinfo')) return 'text/x-nix-narinfo';
  if (/\.nar(\.[a-z0-9]+)?$/.test(name)) return 'application/x-nix-nar';
  if (name.endsWith('.ls')) return 'application/json';
  return 'application/octet-stream';
}

function sendStatus(res: ServerResponse, status: number, text: string, head: boolean): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(head ? undefined : text);
}

/** The size of `file` when it is a regular file, else undefined. */
async function fileSize(file: string): Promise<number | undefined> {
  try {
    const st = await stat(file);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
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
  const size = file.startsWith(root + sep) && !pathname.includes('\0') ? await fileSize(file) : undefined;
  if (size === undefined) {
    sendStatus(res, 404, 'not found\n', head);
    return;
  }
  res.writeHead(200, { 'content-type': contentType(file.slice(file.lastIndexOf(sep) + 1)), 'content-length': size });
  if (head) {
    res.end();
    return;
  }
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/** Starts a cache whose key is named `KEYNAME-1` (default `drover-test-cache-1`). */
export async function startTestCache(opts: { keyName?: string } = {}): Promise<TestCache> {
  const base = await tempDir('drover-test-cache-');
  const dir = join(base.path, 'cache');
  const secretKeyFile = join(base.path, 'secret-key');
  const publicKeyFile = join(base.path, 'public-key');
  const keyName = `${opts.keyName ?? 'drover-test-cache'}-1`;
  try {
    await runOk('nix-store', ['--generate-binary-cache-key', keyName, secretKeyFile, publicKeyFile]);
  } catch (err) {
    await base.remove();
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
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  let closed = false;
  return {
    url: `http://127.0.0.1:${port}`,
    publicKey,
    dir,
    requests,
    async push(paths) {
      if (paths.length === 0) return;
      await runOk('nix', ['copy', '--to', `file://${dir}?secret-key=${secretKeyFile}&compression=zstd`, ...paths]);
    },
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      await base.remove();
    },
  };
}
