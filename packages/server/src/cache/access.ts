/**
 * Who may read or write a built-in cache. Nix sends the token from a netrc
 * file as `Authorization: Basic` with an empty user (the token is the
 * password); Bearer works too. Public caches are readable anonymously. push
 * and pull tokens may be bound to one cache; every token sees only the
 * caches of its own workspace.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DroverError } from '@drover/protocol';
import { bearerFrom, verifyToken } from '../auth/tokens.js';
import type { ServerContext } from '../context.js';
import { boundCacheOf, type CacheRow } from './caches-repository.js';

/** The token in a Bearer or Basic (password, or user when the password is empty) Authorization header. */
export function cacheCredential(header: string | undefined): string | null {
  const bearer = bearerFrom(header);
  if (bearer) return bearer;
  const m = /^Basic\s+([A-Za-z0-9+/=]{1,2048})\s*$/i.exec(header ?? '');
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon < 0 ? decoded : decoded.slice(0, colon);
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  return password || user || null;
}

export async function authorizeCache(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, cache: CacheRow, mode: 'pull' | 'push'): Promise<void> {
  if (mode === 'pull' && cache.public === 1) return;
  let principal;
  try {
    principal = await verifyToken(ctx.db, cacheCredential(request.headers.authorization), mode === 'push' ? 'cachePush' : 'cachePull');
  } catch (err) {
    if (err instanceof DroverError && err.statusCode === 401) void reply.header('www-authenticate', `Basic realm="drover cache ${cache.name}"`);
    throw err;
  }
  ctx.tokenUsage.record(principal.tokenId);
  if (principal.workspaceId !== cache.workspace_id) {
    throw new DroverError('DROVER_ERR_FORBIDDEN', `this token belongs to workspace ${principal.workspaceName}, which does not own cache ${cache.name}`);
  }
  if (principal.kind === 'push' || principal.kind === 'pull') {
    const bound = await boundCacheOf(ctx.db, principal.tokenId);
    if (bound !== null && bound !== cache.id) throw new DroverError('DROVER_ERR_FORBIDDEN', `this ${principal.kind} token is bound to another cache than ${cache.name}`);
  }
}
