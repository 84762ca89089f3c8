/**
 * The web UI: the built single-page app of @drover/web, served as static
 * files. Hashed assets are cached for a year; index.html is served for the
 * app's own routes (`/`, `/login`, `/w/…`) and never cached, so a deploy of a
 * new server version takes effect on the next page load.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { DroverError } from '@drover/protocol';
import { access } from '../access.js';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Security headers for the app's HTML: no framing, no sniffing, scripts and styles from this origin only. */
function htmlHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-cache')
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'same-origin')
    .header(
      'content-security-policy',
      "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    );
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Drover</title>
<p>The Drover web UI is not built. Run <code>npm run build -w @drover/web</code> (done by <code>npm ci</code>) and restart the server. The API is at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>`;

export async function webRoutes(app: FastifyInstance, webRoot: string | null): Promise<void> {
  const root = webRoot ? resolve(webRoot) : null;
  // Re-read when the file changes, so rebuilding the UI under a running server never serves stale asset names.
  let index: { mtimeMs: number; html: string } | null = null;
  const indexHtml = async (): Promise<string | null> => {
    if (!root) return null;
    const file = join(root, 'index.html');
    const stats = await stat(file).catch(() => null);
    if (!stats) return null;
    if (index?.mtimeMs !== stats.mtimeMs) index = { mtimeMs: stats.mtimeMs, html: await readFile(file, 'utf8') };
    return index.html;
  };

  const page = async (_request: unknown, reply: FastifyReply) => htmlHeaders(reply).send((await indexHtml()) ?? NOT_BUILT);
  for (const path of ['/', '/login', '/w/*']) app.get(path, { config: { access: access.public }, schema: { hide: true } }, page);

  app.get<{ Params: { '*': string } }>('/assets/*', { config: { access: access.public }, schema: { hide: true } }, async (request, reply) => {
    const assets = root ? join(root, 'assets') : null;
    const file = assets ? resolve(assets, request.params['*']) : null;
    const stats = assets && file?.startsWith(assets + sep) ? await stat(file).catch(() => null) : null;
    if (!file || !stats?.isFile()) throw new DroverError('DROVER_ERR_ROUTE_NOT_FOUND', `no asset ${JSON.stringify(request.params['*'])}`);
    return reply
      .header('content-type', TYPES[extname(file)] ?? 'application/octet-stream')
      .header('content-length', stats.size)
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .send(createReadStream(file));
  });
}
