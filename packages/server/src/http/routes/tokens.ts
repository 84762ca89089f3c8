/** Token administration of a workspace (admin role or admin token; mounted per workspace, see app.ts). */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import {
  DroverError,
  ErrorBodySchema,
  TokenCreateRequestSchema,
  TokenCreateResponseSchema,
  TokenListSchema,
  type AgentName,
} from '@drover/protocol';
import { createToken, listTokens, revokeToken, tokenInfo } from '../../auth/tokens.js';
import type { ServerContext } from '../../context.js';
import { authorize } from '../auth.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

export async function tokenRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get('/tokens', { schema: { summary: 'Tokens of the workspace (never their secrets)', response: { 200: TokenListSchema } } }, async (request) => {
    const p = await authorize(ctx, request, 'admin');
    return { tokens: await listTokens(ctx.db, p.workspaceId) };
  });

  app.post<{ Body: Static<typeof TokenCreateRequestSchema> }>(
    '/tokens',
    { schema: { summary: 'Create a token; the secret is in this response only', body: TokenCreateRequestSchema, response: { 201: TokenCreateResponseSchema } } },
    async (request, reply) => {
      const p = await authorize(ctx, request, 'admin');
      const { token, row } = await createToken(ctx.db, {
        workspaceId: p.workspaceId,
        kind: request.body.kind,
        agentName: request.body.agent as AgentName | undefined,
        description: request.body.description,
        cacheId: request.body.cache === undefined ? undefined : (await ctx.cache.findCache(request.body.cache, p.workspaceId)).id,
      });
      request.log.info({ token: row.id, kind: row.kind, by: `${p.actor.kind}:${p.actor.id}` }, 'token created');
      return reply.status(201).send({ token, info: tokenInfo(row, p.workspaceName) });
    },
  );

  app.delete<{ Params: Static<typeof IdParams> }>(
    '/tokens/:id',
    { schema: { summary: 'Revoke a token; connections using it close at once', params: IdParams, response: { 204: Type.Null(), 404: ErrorBodySchema } } },
    async (request, reply) => {
      const p = await authorize(ctx, request, 'admin');
      if (!(await revokeToken(ctx.db, p.workspaceId, request.params.id))) {
        throw new DroverError('DROVER_ERR_TOKEN_NOT_FOUND', `no token ${JSON.stringify(request.params.id)} in workspace ${p.workspaceName}`);
      }
      await ctx.bus.publish({ kind: 'token-revoked', tokenId: request.params.id });
      request.log.info({ token: request.params.id, by: `${p.actor.kind}:${p.actor.id}` }, 'token revoked');
      return reply.status(204).send();
    },
  );
}
