/**
 * The few real-Nix steps the benchmark needs (the ideas of
 * tests/src/support/nix.ts, re-implemented so bench/ does not depend on
 * tests/ at runtime): building the fixture closures, a signed file:// binary
 * cache served over HTTP on 127.0.0.1, and deleting closures from the store
 * so agents have to substitute them.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { ROOT, run, runOk } from './proc.js';

/** Builds tests/fixtures/make-fixtures.sh's closures with this salt; returns kind → store path. */
export async function buildFixtures(markerDir: string, salt: string): Promise<Record<string, string>> {
  const r = await runOk('bash', [join(ROOT, 'tests', 'fixtures', 'make-fixtures.sh'), markerDir, salt], { timeoutMs: 300_000 });
  const parsed = JSON.parse(r.stdout) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string' && v.startsWith('/nix/store/')) out[k] = v;
  return out;
}

async function isInStore(path: string): Promise<boolean> {
  return (await run('nix-store', ['--check-validity', path], { timeoutMs: 30_000 })).code === 0;
}

/**
 * Deletes `paths` and whatever of their closures nothing else keeps alive;
 * throws if one of `paths` itself survives. Bounded: at most one retry per closure member.
 */
export async function deleteFromStore(paths: readonly string[]): Promise<void> {
  const present: string[] = [];
  for (const p of paths) if (await isInStore(p)) present.push(p);
  if (present.length === 0) return;
  const closure = (await runOk('nix-store', ['--query', '--requisites', ...present])).stdout.split('\n').filter(Boolean);
  const candidates = new Set(closure);
  for (let attempt = 0; attempt <= closure.length && candidates.size > 0; attempt++) {
    const res = await run('nix-store', ['--delete', ...candidates], { timeoutMs: 60_000 });
    if (res.code === 0) break;
    const alive = /Cannot delete path '([^']+)' since it is still alive/i.exec(res.stderr)?.[1];
    if (alive === undefined || !candidates.has(alive)) throw new Error(`nix-store --delete failed:\n${res.stderr.trim()}`);
    const kept = await run('nix-store', ['--query', '--requisites', alive]);
    candidates.delete(alive);
    for (const p of kept.stdout.split('\n')) candidates.delete(p);
  }
  for (const p of present) if (await isInStore(p)) throw new Error(`could not delete ${p} from the store (GC root?)`);
}

/** Store paths in the closure of `path`. */
export async function closureOf(path: string): Promise<string[]> {
  return (await runOk('nix-store', ['--query', '--requisites', path])).stdout.split('\n').filter(Boolean);
}

export interface BinaryCache {
  readonly url: string;
  readonly publicKey: string;
  push(paths: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

function contentType(name: string): string {
  if (name === 'nix-cache-info') return 'text/x-nix-cache-info';
  if (name.endsWith('.narinfo')) return 'text/x-nix-narinfo';
  if (/\.nar(\.[a-z0-9]+)?$/.test(name)) return 'application/x-nix-nar';
  return 'application/octet-stream';
}

/** A fresh signing key, a file:// cache that `push` fills (signed, zstd), and a static HTTP server for it. */
export async function startBinaryCache(): Promise<BinaryCache> {
  const base = await mkdtemp(join(tmpdir(), 'drover-bench-cache-'));
  const dir = join(base, 'cache');
  const secretKeyFile = join(base, 'secret-key');
  const publicKeyFile = join(base, 'public-key');
  try {
    await runOk('nix-store', ['--generate-binary-cache-key', 'drover-bench-cache-1', secretKeyFile, publicKeyFile]);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'nix-cache-info'), 'StoreDir: /nix/store\n');
  } catch (err) {
    await rm(base, { recursive: true, force: true });
    throw err;
  }
  const publicKey = (await readFile(publicKeyFile, 'utf8')).trim();
  const server: Server = createServer((req, res) => {
    void (async () => {
      const head = req.method === 'HEAD';
      let pathname = '/';
      try {
        pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
      } catch {
        /* answered as 404 below */
      }
      const file = resolve(dir, `.${pathname}`);
      const size = file.startsWith(dir + sep) ? await stat(file).then((s) => (s.isFile() ? s.size : -1), () => -1) : -1;
      if ((req.method !== 'GET' && !head) || size < 0) {
        res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 10 });
        res.end(head ? undefined : 'not found\n');
        return;
      }
      res.writeHead(200, { 'content-type': contentType(file.slice(file.lastIndexOf(sep) + 1)), 'content-length': size });
      if (head) return void res.end();
      const stream = createReadStream(file);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    })();
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    publicKey,
    async push(paths) {
      await runOk('nix', ['copy', '--to', `file://${dir}?secret-key=${secretKeyFile}&compression=zstd`, ...paths], { timeoutMs: 120_000 });
    },
    async close() {
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      await rm(base, { recursive: true, force: true });
    },
  };
}
