/**
 * The built-in cache handed to Cachix agents (setting `cachix_cache =
 * "builtin"`; default "none": `cache: null`, the machines' own
 * substituters). A Cachix agent substitutes from `<scheme>://NAME.HOST` —
 * HOST the host name it connects to — and trusts only the key named
 * `NAME.HOST-1`. So requests whose Host is `NAME.<public host>` are served
 * as `/cache/NAME/…` (the URL is rewritten before routing; the cache routes
 * and their access rules answer), and their narinfos carry each signature
 * under that key name: an ed25519 signature covers the path's fingerprint,
 * not the key's name, so the same signature verifies under either name. A
 * private cache is read with the agent's token from the netrc the agent
 * writes (Basic, empty user), as the cache routes accept.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { CACHE_PATH_PREFIX, DroverError } from '@drover/protocol';
import type { ServerContext } from '../context.js';
import { agentCacheOf } from '../cache/agents.js';
import type { CachixCache } from './wire.js';

/** What `cachix_cache` may say. */
const CACHIX_CACHE_SETTINGS = ['none', 'builtin'] as const;
export type CachixCacheSetting = (typeof CACHIX_CACHE_SETTINGS)[number];

/** The setting as given (absent: none); anything else is refused at start. */
export function cachixCacheSetting(value: string | undefined): CachixCacheSetting {
  const given = value ?? 'none';
  const known = CACHIX_CACHE_SETTINGS.find((s) => s === given);
  if (known === undefined) throw new DroverError('DROVER_ERR_CONFIG', `cachix_cache must be "none" or "builtin" (got ${JSON.stringify(value)})`);
  return known;
}

/** A cache name as a DNS label may carry it. */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Requests rewritten from a cache host name, with the key name their narinfo signatures take. */
const fromCacheHost = new WeakMap<IncomingMessage, string>();

/** The cache a Cachix agent of this workspace is handed: its built-in one (the one Drover agents use) when the setting says so, else null. */
export async function cachixCacheFor(ctx: ServerContext, workspaceId: string): Promise<CachixCache | null> {
  if (ctx.cachixCache !== 'builtin') return null;
  const source = await agentCacheOf(ctx.db, workspaceId);
  if (source === null || !('builtin' in source)) return null;
  const row = source.builtin;
  return { cacheName: row.name, publicKey: row.public_key.slice(row.public_key.indexOf(':') + 1), isPublic: row.public === 1 };
}

/** The host name of the server's public URL, or null when it has none yet. */
function publicHost(ctx: ServerContext): string | null {
  try {
    return new URL(ctx.publicUrl).hostname.toLowerCase();
  } catch {
    return null;
  }
}

/** Fastify's `rewriteUrl`: a request to `NAME.<public host>` is one for `/cache/NAME/…`. */
export function rewriteCacheHost(ctx: ServerContext, req: IncomingMessage): string {
  const url = req.url ?? '/';
  if (ctx.cachixCache !== 'builtin') return url;
  const host = publicHost(ctx);
  const given = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
  if (host === null || !given.endsWith(`.${host}`)) return url;
  const name = given.slice(0, -(host.length + 1));
  if (!LABEL.test(name)) return url;
  fromCacheHost.set(req, `${name}.${host}-1`);
  return `${CACHE_PATH_PREFIX}/${name}${url.startsWith('/') ? url : `/${url}`}`;
}

/** Each `Sig:` line of a narinfo under another key name. */
function renameSignatures(narinfo: string, keyName: string): string {
  return narinfo.replace(/^Sig: [^:\n]+:/gm, `Sig: ${keyName}:`);
}

/** Renames the signatures of narinfos served from a cache host name (an onSend hook on the root instance). */
export function installCacheHostSignatures(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const keyName = fromCacheHost.get(request.raw);
    if (keyName === undefined || !String(reply.getHeader('content-type') ?? '').startsWith('text/x-nix-narinfo')) return payload;
    // The route sends a narinfo as text, or as the bytes the in-memory cache holds (cache/memo.ts).
    if (typeof payload === 'string') return renameSignatures(payload, keyName);
    if (Buffer.isBuffer(payload)) return renameSignatures(payload.toString('utf8'), keyName);
    return payload;
  });
}
