/**
 * The binary cache's hot path, answered before Fastify: a GET or HEAD of
 * `/cache/NAME/HASH.narinfo` whose cache is public and whose narinfo this
 * replica remembers (cache/memo.ts, CacheService.rememberedPublicNarinfo).
 *
 * It is the one request Nix sends most (a substituter asks for every path
 * of a closure), and answering it from memory costs a few microseconds
 * while Fastify's per-request work (request and reply objects, a child
 * logger, five hooks, routing) costs several times that. The answer is the
 * route's own (routes/cache.ts: same body, type and cache-control; counted
 * in the same `drover_http_request_duration_seconds` series). Everything
 * else — a private cache (its token is checked by the authorization hook),
 * a narinfo not in memory, a query string, a body, a server shutting down —
 * goes to Fastify unchanged, which then remembers the narinfo for the next
 * request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { CACHE_PATH_PREFIX } from '@drover/protocol';
import type { ServerContext } from '../context.js';
import { NARINFO_TYPE, narinfoCacheControl } from './routes/cache.js';

const FAST_PATH_RE = new RegExp(`^${CACHE_PATH_PREFIX}/([a-z0-9][a-z0-9-]{0,63})/([0-9abcdfghijklmnpqrsvwxyz]{32})\\.narinfo$`);
/** The route the answer is counted under, as Fastify names it. */
const ROUTE = `${CACHE_PATH_PREFIX}/:name/:file`;

/** A request handler that answers what it can from memory and returns true, or returns false and leaves the request alone. */
type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The fast path over `ctx`; `closing()` says the server is shutting down (then Fastify answers, with its 503). */
function cacheFastPath(ctx: ServerContext, closing: () => boolean): FastPath {
  // The series each answer is counted in, looked up once (not hashed from labels per request).
  const counted = {
    GET: ctx.metrics.httpDuration.labels({ method: 'GET', route: ROUTE, status: '200' }),
    HEAD: ctx.metrics.httpDuration.labels({ method: 'HEAD', route: ROUTE, status: '200' }),
  };
  return (req, res) => {
    const method = req.method;
    if ((method !== 'GET' && method !== 'HEAD') || closing()) return false;
    if (!req.url?.startsWith(CACHE_PATH_PREFIX)) return false;
    const [, name, hash] = FAST_PATH_RE.exec(req.url) ?? [];
    if (name === undefined || hash === undefined || req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) return false;
    const start = process.hrtime.bigint();
    const hit = ctx.cache.rememberedPublicNarinfo(name, hash);
    if (!hit) return false;
    res.writeHead(200, {
      'content-type': NARINFO_TYPE,
      'cache-control': narinfoCacheControl(hit.cache),
      'content-length': hit.narinfo.length,
    });
    if (method === 'HEAD') res.end();
    else res.end(hit.narinfo);
    counted[method].observe(Number(process.hrtime.bigint() - start) / 1e9);
    return true;
  };
}

/**
 * Puts the fast path in front of Fastify's request handler on `app.server`
 * (its one `request` listener, wrapped in place: Fastify keeps creating and
 * closing its own server, and binds every address of a host name as before,
 * which a `serverFactory` would not). Call once, before `listen`.
 */
export function installCacheFastPath(app: FastifyInstance, ctx: ServerContext, closing: () => boolean): void {
  const handlers = app.server.listeners('request');
  const [fastify] = handlers;
  if (handlers.length !== 1 || typeof fastify !== 'function') {
    ctx.log.warn({ listeners: handlers.length }, 'the HTTP server does not have exactly one request handler; narinfos are served without the fast path');
    return;
  }
  const fast = cacheFastPath(ctx, closing);
  app.server.removeListener('request', fastify as (req: IncomingMessage, res: ServerResponse) => void);
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!fast(req, res)) (fastify as (req: IncomingMessage, res: ServerResponse) => void)(req, res);
  });
}
