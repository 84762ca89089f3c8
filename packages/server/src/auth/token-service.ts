/**
 * Token rules that reach beyond the tokens table: a cache named at creation
 * is resolved in the token's workspace, and a revocation is told to every
 * replica so connections using the token close at once.
 */
import type { Static } from '@sinclair/typebox';
import { DroverError, isAgentName, type TokenCreateRequestSchema, type TokenInfo } from '@drover/protocol';
import type { ServerContext } from '../context.js';
import type { Access } from './access.js';
import { createToken, revokeToken, toTokenApi } from './tokens.js';

/** Creates a token from an API request; the secret is in the result only. */
export async function issueToken(
  ctx: ServerContext,
  access: Access,
  request: Static<typeof TokenCreateRequestSchema>,
): Promise<{ token: string; info: TokenInfo }> {
  const { token, row } = await createToken(ctx.db, {
    workspaceId: access.workspaceId,
    kind: request.kind,
    // The route's schema checked the name already; isAgentName gives it its branded type.
    agentName: isAgentName(request.agent) ? request.agent : undefined,
    unbound: request.unbound === true ? 'claim' : undefined,
    description: request.description,
    cacheId: request.cache === undefined ? undefined : (await ctx.cache.findCache(request.cache, access.workspaceId)).id,
  });
  return { token, info: toTokenApi(row, access.workspaceName) };
}

/** Revokes a token of the workspace and closes its connections on every replica. */
export async function withdrawToken(ctx: ServerContext, access: Access, id: string): Promise<void> {
  if (!(await revokeToken(ctx.db, access.workspaceId, id))) {
    throw new DroverError('DROVER_ERR_TOKEN_NOT_FOUND', `no token ${JSON.stringify(id)} in workspace ${access.workspaceName}`);
  }
  await ctx.bus.publish({ kind: 'token-revoked', tokenId: id });
}
