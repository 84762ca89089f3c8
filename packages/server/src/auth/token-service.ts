/**
 * Token rules that reach beyond the tokens table: a cache named at creation
 * is resolved in the token's workspace, and a revocation is told to every
 * replica so connections using the token close at once.
 */
import type { Static } from '@sinclair/typebox';
import { DroverError, isAgentName, type TokenCreateRequestSchema, type TokenInfo } from '@drover/protocol';
import type { ServerContext } from '../context.js';
import { createToken, revokeToken, toTokenApi } from './tokens.js';

export interface Workspace {
  readonly id: string;
  readonly name: string;
}

/** Creates a token from an API request; the secret is in the result only. */
export async function issueToken(ctx: ServerContext, workspace: Workspace, request: Static<typeof TokenCreateRequestSchema>): Promise<{ token: string; info: TokenInfo }> {
  const { token, row } = await createToken(ctx.db, {
    workspaceId: workspace.id,
    kind: request.kind,
    // The route's schema checked the name already; isAgentName gives it its branded type.
    agentName: isAgentName(request.agent) ? request.agent : undefined,
    description: request.description,
    cacheId: request.cache === undefined ? undefined : (await ctx.cache.findCache(request.cache, workspace.id)).id,
  });
  return { token, info: toTokenApi(row, workspace.name) };
}

/** Revokes a token of the workspace and closes its connections on every replica. */
export async function withdrawToken(ctx: ServerContext, workspace: Workspace, id: string): Promise<void> {
  if (!(await revokeToken(ctx.db, workspace.id, id))) {
    throw new DroverError('DROVER_ERR_TOKEN_NOT_FOUND', `no token ${JSON.stringify(id)} in workspace ${workspace.name}`);
  }
  await ctx.bus.publish({ kind: 'token-revoked', tokenId: id });
}
