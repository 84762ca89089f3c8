/** Request authentication: the bearer token of a request, verified for a scope. */
import type { FastifyRequest } from 'fastify';
import type { TokenScope } from '@drover/protocol';
import { bearerFrom, verifyToken, type Principal } from '../auth/tokens.js';
import type { ServerContext } from '../context.js';

export async function authenticate(ctx: ServerContext, request: FastifyRequest, scope: TokenScope): Promise<Principal> {
  const principal = await verifyToken(ctx.db, bearerFrom(request.headers.authorization), scope);
  ctx.tokenUsage.record(principal.tokenId);
  return principal;
}
