/**
 * `drover push CACHE PATH…`: uploads the closures of store paths to a
 * built-in cache. It reads the closure's metadata with one
 * `nix path-info --json -r`, asks the server which paths are missing in ONE
 * request, then uploads them, several requests at a time, each path only
 * after the paths it references (push-plan.ts): small paths many to a request
 * (NARs made in process and compressed with one reused zstd context; the
 * server commits each batch in one transaction), larger ones streamed as a
 * zstd-compressed NAR in one request each (no temporary files). Progress is
 * a bar on a terminal and plain lines otherwise.
 */
import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { CompressStream, Compressor } from 'zstd-napi';
import { DroverError, MissingResponseSchema, parseCacheName, parseStorePath, schemaDecoder, STORE_DIR, type StorePath } from '@drover/protocol';
import type { SendOptions } from '@drover/client';
import { ApiClient, ApiError } from '../client.js';
import { dumpNar } from '@drover/nix';
import { info } from '../output.js';
import { planUnits, type Unit } from './push-plan.js';
import { serverFrom } from './reader.js';

interface PathInfo {
  readonly path: StorePath;
  readonly narHash: string;
  readonly narSize: number;
  readonly references: readonly string[];
  readonly deriver: string | null;
  readonly ca: string | null;
  readonly signatures: readonly string[];
}

const base = (p: string) => p.slice(STORE_DIR.length + 1);

/** What the server is told about a path besides its NAR. */
function pathInfoOf(p: PathInfo) {
  return {
    storePath: p.path,
    narHash: p.narHash,
    narSize: p.narSize,
    references: p.references.map(base),
    deriver: p.deriver ? base(p.deriver) : null,
    ca: p.ca,
    sigs: p.signatures,
  };
}

async function closureOf(paths: readonly StorePath[]): Promise<PathInfo[]> {
  const { stdout } = await promisify(execFile)('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--json', '--recursive', ...paths], {
    maxBuffer: 1 << 30,
  });
  const parsed = JSON.parse(stdout) as Record<string, unknown>[];
  return parsed.map((p) => ({
    path: parseStorePath(p['path']),
    narHash: String(p['narHash']),
    narSize: Number(p['narSize']),
    references: (p['references'] as string[] | undefined) ?? [],
    deriver: typeof p['deriver'] === 'string' ? p['deriver'] : null,
    ca: typeof p['ca'] === 'string' ? p['ca'] : null,
    signatures: (p['signatures'] as string[] | undefined) ?? [],
  }));
}

class Progress {
  private done = 0;
  private bytes = 0;
  private readonly tty = process.stderr.isTTY;
  constructor(private readonly total: number) {}

  step(path: string, narSize: number): void {
    this.done++;
    this.bytes += narSize;
    if (!this.tty) return info(`pushed ${path} (${this.done}/${this.total})`);
    const width = 30;
    const filled = Math.round((this.done / this.total) * width);
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${this.done}/${this.total} paths, ${(this.bytes / 1024 / 1024).toFixed(1)} MiB`,
    );
    if (this.done === this.total) process.stderr.write('\n');
  }
}

/**
 * An upload whose connection broke twice. A server that refuses an upload
 * (a full disk, a body too large) answers while the body is still coming;
 * when it closes the connection before the client read that answer, all the
 * client sees is EPIPE or ECONNRESET, so it says what that may mean.
 */
function brokenUpload(err: ApiError, what: string): ApiError {
  return new ApiError(0, {
    code: err.code,
    message: `${what}: the connection broke during the upload, also when sent again (${err.message}); the server may have refused the upload and closed the connection before its answer arrived (its log says why)`,
    hint: err.hint,
  });
}

export interface PushFlags {
  server?: string;
  jobs?: string;
  compression?: string;
}

export interface PushTarget {
  readonly server: string;
  readonly token: string;
  readonly cache: string;
}

/** DROVER_PUSH_TOKEN, or an error saying how to get one. */
export function pushToken(): string {
  const token = process.env['DROVER_PUSH_TOKEN'];
  if (!token) throw new DroverError('DROVER_ERR_UNAUTHORIZED', 'no push token: set DROVER_PUSH_TOKEN (create one with `drover token create --kind push`)');
  return token;
}

/** --jobs and --compression, checked before anything is read or sent. */
export function pushOptions(flags: PushFlags): { jobs: number; compression: 'zstd' | 'none' } {
  const jobs = Number(flags.jobs ?? 8);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)
    throw new DroverError('DROVER_ERR_VALIDATION', `--jobs must be 1-64 (got ${JSON.stringify(flags.jobs)})`);
  const compression = flags.compression ?? 'zstd';
  if (compression !== 'zstd' && compression !== 'none') throw new DroverError('DROVER_ERR_UNSUPPORTED_COMPRESSION', '--compression must be zstd or none');
  return { jobs, compression };
}

export async function pushCommand(cacheName: string, rawPaths: string[], flags: PushFlags): Promise<void> {
  const target = { cache: parseCacheName(cacheName), server: serverFrom(flags), token: pushToken() };
  await pushClosures(target, rawPaths, pushOptions(flags));
}

/** Pushes the closures of `rawPaths` to `target.cache`: only the paths it lacks. */
export async function pushClosures(target: PushTarget, rawPaths: readonly string[], opts: ReturnType<typeof pushOptions>): Promise<void> {
  const { cache, server, token } = target;
  const { jobs, compression } = opts;
  const started = Date.now();
  const closure = await closureOf(rawPaths.map((p) => parseStorePath(p)));
  const api = new ApiClient({ server, token });
  const url = `/caches/${cache}`;

  const asked = await api
    .request('POST', `${url}/missing`, { paths: closure.map((p) => p.path) }, schemaDecoder(MissingResponseSchema))
    .catch((err: unknown) => {
      throw err instanceof ApiError ? err.during('asking which paths are missing') : err;
    });
  const missing = new Set<string>(asked.missing);
  const todo = closure.filter((p) => missing.has(p.path));
  info(`${closure.length} paths in the closure, ${closure.length - todo.length} already in ${cache}, pushing ${todo.length}`);
  if (todo.length === 0) return;

  const progress = new Progress(todo.length);
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async () => {
    while (running >= jobs) await new Promise<void>((r) => waiting.push(r));
    running++;
  };
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  // `upload()` makes the request's body afresh: an upload whose connection broke is sent once more, then reported as brokenUpload.
  const request = async (method: string, path: string, upload: () => Pick<SendOptions, 'headers' | 'body' | 'init'>, what: string) => {
    const once = () => api.http.send(method, `${url}${path}`, upload());
    const res = await once().catch(async (err: unknown) => {
      if (!(err instanceof ApiError) || err.status !== 0) throw err;
      return once().catch((again: unknown) => {
        throw again instanceof ApiError && again.status === 0 ? brokenUpload(again, what) : again;
      });
    });
    if (!res.ok) throw (await api.http.failure(res)).during(what);
    await res.arrayBuffer();
  };
  const uploadOne = async (p: PathInfo): Promise<void> => {
    const stream = () => {
      const nar = dumpNar(p.path);
      const body = compression === 'zstd' ? nar.pipe(new CompressStream()) : nar;
      nar.on('error', (err) => body.destroy(err));
      return Readable.toWeb(body) as ReadableStream;
    };
    await request(
      'PUT',
      '/paths',
      () => ({
        headers: {
          'content-type': 'application/x-nix-nar',
          'x-drover-compression': compression,
          'x-drover-path-info': Buffer.from(JSON.stringify(pathInfoOf(p))).toString('base64url'),
        },
        body: stream(),
        init: { duplex: 'half' },
      }),
      `pushing ${p.path}`,
    );
  };
  const compressor = compression === 'zstd' ? new Compressor() : null;
  // Small paths: read whole, compressed with one reused context, and sent many to a request (see push-plan.ts).
  const uploadBatch = async (paths: Unit<PathInfo>['paths']): Promise<void> => {
    const files: { path: PathInfo; file: Buffer }[] = [];
    for (const p of paths) {
      const nar = Buffer.concat(await dumpNar(p.path).toArray());
      files.push({ path: p, file: compressor ? compressor.compress(nar) : nar });
    }
    const header = Buffer.from(JSON.stringify({ compression, paths: files.map(({ path, file }) => ({ ...pathInfoOf(path), fileSize: file.length })) }));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(header.length);
    const what = `pushing ${paths.length} paths (${paths[0].path}${paths.length > 1 ? ', …' : ''})`;
    const body = Buffer.concat([length, header, ...files.map(({ file }) => file)]);
    await request('POST', '/paths', () => ({ headers: { 'content-type': 'application/x-drover-path-batch' }, body }), what);
  };
  const finished = new Map<Unit<PathInfo>, Promise<void>>();
  // Each unit starts once the units holding the missing paths it references are in; the server refuses it otherwise.
  const schedule = (unit: Unit<PathInfo>): Promise<void> => {
    let promise = finished.get(unit);
    if (!promise) {
      promise = Promise.all([...unit.after].map(schedule)).then(async () => {
        await slot();
        try {
          await (unit.batch ? uploadBatch(unit.paths) : uploadOne(unit.paths[0]));
        } finally {
          release();
        }
        for (const p of unit.paths) progress.step(p.path, p.narSize);
      });
      finished.set(unit, promise);
    }
    return promise;
  };
  const results = await Promise.allSettled(planUnits(todo, jobs).map(schedule));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const bytes = todo.reduce((a, p) => a + p.narSize, 0);
  info(`pushed ${todo.length} paths (${(bytes / 1024 / 1024).toFixed(1)} MiB of NARs) to ${cache} in ${((Date.now() - started) / 1000).toFixed(2)} s`);
}
