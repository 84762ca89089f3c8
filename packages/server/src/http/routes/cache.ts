/**
 * The built-in binary cache over HTTP.
 *
 * `/cache/NAME/…` speaks Nix's binary cache protocol: GET/HEAD of
 * nix-cache-info, `<hash>.narinfo` and `nar/<file>`, and PUT of each as
 * `nix copy --to` sends them (bodies are streams, never buffered whole).
 * `/api/v1/caches/:name/{missing,paths}` is what `drover push` uses (the
 * missing-path query and one-request uploads); administration (create,
 * list, pins, GC) is in cache-admin.ts, mounted per workspace.
 */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { CACHE_PATH_PREFIX, CacheNameSchema, DroverError, MissingRequestSchema, MissingResponseSchema, parseStorePath } from '@drover/protocol';
import { NAR_COMPRESSIONS } from '@drover/nix';
import { MAX_BATCH_BYTES, parseBatch, PathInfoSchema } from '../../cache/batch.js';
import type { CacheRow } from '../../cache/caches-repository.js';
import { sendFile } from '../../cache/storage/send-file.js';
import type { ServerContext } from '../../context.js';
import { access, cacheAccess } from '../access.js';

const NameParams = Type.Object({ name: CacheNameSchema });
const FileParams = Type.Object({ name: CacheNameSchema, file: Type.String({ maxLength: 100 }) });
const NARINFO_RE = /^([0-9abcdfghijklmnpqrsvwxyz]{32})\.narinfo$/;
export const NARINFO_TYPE = 'text/x-nix-narinfo';
const MAX_NARINFO_BYTES = 64 * 1024;

const pathInfoCheck = TypeCompiler.Compile(PathInfoSchema);
/** Header carrying a `drover push` upload's path info: base64url of the JSON above. */
const PATH_INFO_HEADER = 'x-drover-path-info';

function cacheControl(cache: CacheRow, maxAge: number, immutable = false): string {
  return `${cache.public === 1 ? 'public' : 'private'}, max-age=${maxAge}${immutable ? ', immutable' : ''}`;
}

const NARINFO_MAX_AGE = 300;
const NARINFO_CACHE_CONTROL = { public: `public, max-age=${NARINFO_MAX_AGE}`, private: `private, max-age=${NARINFO_MAX_AGE}` } as const;

/** How long clients may keep a narinfo (one string per visibility, not built per request). */
export function narinfoCacheControl(cache: CacheRow): string {
  return cache.public === 1 ? NARINFO_CACHE_CONTROL.public : NARINFO_CACHE_CONTROL.private;
}

/** Refuses an empty or oversized body before reading it (Nix 2.8 retries a failed PUT without its body). */
function checkDeclaredLength(request: FastifyRequest, max: number, what: string): void {
  const length = request.headers['content-length'];
  const chunked = /chunked/i.test(request.headers['transfer-encoding'] ?? '');
  if (!chunked && (length === undefined || length === '0')) throw new DroverError('DROVER_ERR_NAR_MISMATCH', `the ${what} upload has no body`);
  if (length !== undefined && Number(length) > max)
    throw new DroverError('DROVER_ERR_BODY_TOO_LARGE', `the ${what} is ${length} bytes, more than the limit of ${max}`);
}

/** Reads a bounded body (a narinfo, a push batch) with a size limit and an idle timeout. */
function readBody(stream: Readable, limit: number, idleMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let timer = setTimeout(() => done(new DroverError('DROVER_ERR_UPLOAD_TIMEOUT', `no upload data for ${idleMs} ms`)), idleMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      stream.removeAllListeners('data');
      if (err) reject(err);
      else resolve(Buffer.concat(parts));
    };
    stream.on('data', (chunk: Buffer) => {
      clearTimeout(timer);
      timer = setTimeout(() => done(new DroverError('DROVER_ERR_UPLOAD_TIMEOUT', `no upload data for ${idleMs} ms`)), idleMs);
      size += chunk.length;
      if (size > limit) return done(new DroverError('DROVER_ERR_BODY_TOO_LARGE', `the body is larger than ${limit} bytes`));
      parts.push(chunk);
    });
    stream.once('end', () => done());
    stream.once('error', (err) => done(new DroverError('DROVER_ERR_NARINFO_INVALID', `the upload was cut short: ${err.message}`)));
  });
}

async function readSmallBody(stream: Readable, limit: number, idleMs: number): Promise<string> {
  return (await readBody(stream, limit, idleMs)).toString('utf8');
}

/** The raw request body stream the content-type parser below passes through. */
function bodyStream(request: FastifyRequest): Readable {
  if (request.body instanceof Readable) return request.body;
  throw new DroverError('DROVER_ERR_VALIDATION', 'the upload has no body stream');
}

function notFound(what: string): DroverError {
  return new DroverError('DROVER_ERR_CACHE_PATH_NOT_FOUND', `${what} is not in this cache`);
}

/** The most of a refused upload's body that is read and dropped after the answer, and for how long. */
const DRAIN_MAX_BYTES = 32 * 1024 * 1024;
const DRAIN_MAX_MS = 5_000;

/**
 * After a refused upload is answered, the rest of its body is read and
 * dropped (up to DRAIN_MAX_BYTES, then reading pauses) for DRAIN_MAX_MS, and
 * the connection closed only if the body has not ended by then. Closing at
 * once with bytes unread makes the kernel reset the connection, and a client
 * still writing (undici's fetch, which `drover push` uses) then fails with
 * EPIPE before it reads the answer already in its socket buffer; given the
 * time, it reads the answer and stops sending by itself.
 */
function lingerOnRest(request: FastifyRequest): void {
  const raw = request.raw;
  if (raw.destroyed) return;
  raw.unpipe();
  let bytes = 0;
  const timer = setTimeout(() => raw.destroy(), DRAIN_MAX_MS).unref();
  raw.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > DRAIN_MAX_BYTES) raw.pause();
  });
  raw.once('end', () => clearTimeout(timer)).once('close', () => clearTimeout(timer));
  raw.resume();
}

/** The Nix binary cache protocol; bodies arrive as raw streams. */
async function nixProtocolRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  // A refused upload leaves its body unread: answered at once, its rest read and dropped for a while (lingerOnRest);
  // a stalled one is not waited for: the connection closes.
  app.addHook('onError', async (request, reply, error) => {
    if (request.raw.complete) return;
    const stalled = error instanceof DroverError && (error.code === 'DROVER_ERR_UPLOAD_TIMEOUT' || error.code === 'DROVER_ERR_REQUEST_TIMEOUT');
    if (stalled) void reply.header('connection', 'close');
    else lingerOnRest(request);
  });
  const svc = ctx.cache;
  const base = `${CACHE_PATH_PREFIX}/:name`;
  const hide = { hide: true };

  app.get<{ Params: Static<typeof NameParams> }>(
    `${base}/nix-cache-info`,
    { config: { access: access.cache('cache-pull') }, schema: { ...hide, params: NameParams } },
    async (request, reply) => {
      const { cache } = cacheAccess(request);
      return reply.type('text/x-nix-cache-info').header('cache-control', cacheControl(cache, 3600)).send(svc.nixCacheInfo());
    },
  );

  app.get<{ Params: Static<typeof FileParams> }>(
    `${base}/:file`,
    { config: { access: access.cache('cache-pull') }, schema: { ...hide, params: FileParams } },
    async (request, reply) => {
      const { cache } = cacheAccess(request);
      const hash = NARINFO_RE.exec(request.params.file)?.[1];
      const text = hash === undefined ? null : await svc.narinfo(cache, hash);
      if (text === null) {
        void reply.header('cache-control', 'no-cache');
        throw notFound(request.params.file);
      }
      return reply.type(NARINFO_TYPE).header('cache-control', narinfoCacheControl(cache)).send(text);
    },
  );

  app.get<{ Params: Static<typeof FileParams> }>(
    `${base}/nar/:file`,
    { config: { access: access.cache('cache-pull') }, schema: { ...hide, params: FileParams } },
    async (request, reply) => {
      const { cache } = cacheAccess(request);
      const file = request.params.file;
      if (request.method === 'HEAD') {
        // HEAD is what `nix copy` asks before uploading: only a NAR this cache serves or was sent counts;
        // another cache's file is not found, as one that does not exist.
        if (!(await svc.narVisible(cache, file))) throw notFound(`nar/${file}`);
        return reply
          .type('application/x-nix-nar')
          .header('cache-control', cacheControl(cache, 31_536_000, true))
          .send();
      }
      const nar = await svc.openNar(cache, file);
      if (!nar) throw notFound(`nar/${file}`);
      void reply
        .type('application/x-nix-nar')
        .header('content-length', nar.size)
        .header('etag', `"${file}"`)
        .header('cache-control', cacheControl(cache, 31_536_000, true));
      if ('stream' in nar) return reply.send(nar.stream);
      // A local file goes to the socket directly (send-file.ts); the onResponse hooks still run when it ends.
      reply.hijack();
      reply.raw.writeHead(200, reply.getHeaders() as OutgoingHttpHeaders);
      try {
        await sendFile(nar.file, nar.size, reply.raw);
      } catch (err) {
        request.log.debug({ err, file }, 'NAR download cut short');
      } finally {
        await nar.file.close();
      }
      return reply;
    },
  );

  app.put<{ Params: Static<typeof NameParams> }>(
    `${base}/nix-cache-info`,
    { config: { access: access.cache('cache-push') }, schema: { ...hide, params: NameParams } },
    async (request, reply) => {
      // The cache describes itself; what `nix copy` writes here is read and ignored.
      await readSmallBody(bodyStream(request), 4096, svc.uploadIdleMs);
      return reply.status(204).send();
    },
  );

  app.put<{ Params: Static<typeof FileParams> }>(
    `${base}/:file`,
    { config: { access: access.cache('cache-push') }, schema: { ...hide, params: FileParams } },
    async (request, reply) => {
      const { cache } = cacheAccess(request);
      const hash = NARINFO_RE.exec(request.params.file)?.[1];
      if (hash === undefined)
        throw new DroverError(
          'DROVER_ERR_VALIDATION',
          `only <hash>.narinfo, nar/<file> and nix-cache-info can be uploaded (got ${JSON.stringify(request.params.file)})`,
        );
      checkDeclaredLength(request, MAX_NARINFO_BYTES, 'narinfo');
      const text = await readSmallBody(bodyStream(request), MAX_NARINFO_BYTES, svc.uploadIdleMs);
      await svc.putNarinfo(cache, hash, text);
      request.log.debug({ cache: cache.name, narinfo: hash }, 'narinfo accepted');
      return reply.status(204).send();
    },
  );

  app.put<{ Params: Static<typeof FileParams> }>(
    `${base}/nar/:file`,
    { config: { access: access.cache('cache-push') }, schema: { ...hide, params: FileParams } },
    async (request, reply) => {
      const { cache } = cacheAccess(request);
      checkDeclaredLength(request, svc.maxNarBytes, 'NAR');
      await svc.putNar(cache, request.params.file, bodyStream(request));
      return reply.status(204).send();
    },
  );

  app.put<{ Params: Static<typeof NameParams> }>(
    '/api/v1/caches/:name/paths',
    {
      config: { access: access.cache('cache-push') },
      schema: { summary: 'Upload one store path (drover push): NAR as the body, its path info in x-drover-path-info', params: NameParams },
    },
    async (request, reply) => {
      const { cache } = cacheAccess(request);
      let info: unknown;
      try {
        info = JSON.parse(Buffer.from(String(request.headers[PATH_INFO_HEADER] ?? ''), 'base64url').toString('utf8'));
      } catch {
        info = undefined;
      }
      if (!pathInfoCheck.Check(info))
        throw new DroverError(
          'DROVER_ERR_VALIDATION',
          `header ${PATH_INFO_HEADER} must be base64url JSON {storePath, narHash, narSize, references, deriver, ca, sigs}`,
        );
      const asked = String(request.headers['x-drover-compression'] ?? 'zstd');
      const compression = NAR_COMPRESSIONS.find((c) => c === asked);
      if (!compression) throw new DroverError('DROVER_ERR_UNSUPPORTED_COMPRESSION', `compression ${JSON.stringify(asked)} is not supported`);
      checkDeclaredLength(request, svc.maxNarBytes, 'NAR');
      await svc.uploadPath(cache, { ...info, storePath: parseStorePath(info.storePath) }, compression, bodyStream(request));
      return reply.status(204).send();
    },
  );

  app.post<{ Params: Static<typeof NameParams> }>(
    '/api/v1/caches/:name/paths',
    {
      config: { access: access.cache('cache-push') },
      schema: {
        summary: 'Upload many small store paths at once (drover push): one body, all committed in one transaction; see cache/batch.ts',
        params: NameParams,
      },
    },
    async (request, reply) => {
      const { cache } = cacheAccess(request);
      checkDeclaredLength(request, MAX_BATCH_BYTES, 'push batch');
      const batch = parseBatch(await readBody(bodyStream(request), MAX_BATCH_BYTES, svc.uploadIdleMs));
      await svc.uploadPaths(cache, batch.compression, batch.entries);
      return reply.status(204).send();
    },
  );
}

/** The push API (JSON): what `drover push` uses, with push tokens. Administration is in cache-admin.ts. */
async function cacheApiRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const svc = ctx.cache;
  app.post<{ Params: Static<typeof NameParams>; Body: Static<typeof MissingRequestSchema> }>(
    '/api/v1/caches/:name/missing',
    {
      config: { access: access.cache('cache-push') },
      schema: {
        summary: 'Which of these store paths the cache lacks (drover push)',
        params: NameParams,
        body: MissingRequestSchema,
        response: { 200: MissingResponseSchema },
      },
    },
    async (request) => {
      const { cache } = cacheAccess(request);
      return { missing: await svc.missing(cache, request.body.paths.map(parseStorePath)) };
    },
  );
}

export async function cacheRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  await app.register(async (scope) => nixProtocolRoutes(scope, ctx));
  await app.register(async (scope) => cacheApiRoutes(scope, ctx));
}
