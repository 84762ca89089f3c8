/** Token administration of a workspace (admin role or admin token; mounted per workspace, see mounts.ts). */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import { Type } from '@sinclair/typebox';
import { ErrorBodySchema, IdParamsSchema, TokenCreateRequestSchema, TokenCreateResponseSchema, TokenListSchema } from '@drover/protocol';
import { listTokens } from '../../auth/tokens.js';
import { issueToken, withdrawToken } from '../../auth/token-service.js';
import { access, workspaceAccess } from '../access.js';
import { field, fromParam, fromResponse } from '../audit.js';
import type { WorkspaceRoutes } from '../mounts.js';

export const tokenRoutes: WorkspaceRoutes = async (app, ctx) => {
  const admin = { access: access.workspace('admin') };

  app.get(
    '/tokens',
    { config: admin, schema: { summary: 'Tokens of the workspace (never their secrets)', response: { 200: TokenListSchema } } },
    async (request) => ({
      tokens: await listTokens(ctx.db, workspaceAccess(request).workspaceId),
    }),
  );

  app.post(
    '/tokens',
    {
      config: {
        ...admin,
        // The answer holds the token's secret: only its id and public facts are picked.
        audit: {
          action: 'token.create',
          target: fromResponse('info', 'id'),
          details: (request, response) => ({
            kind: field(response.body(), 'info', 'kind'),
            agent: field(response.body(), 'info', 'agent'),
            agentBinding: field(response.body(), 'info', 'agentBinding'),
            cache: field(request.body, 'cache'),
            description: field(response.body(), 'info', 'description'),
          }),
        },
      },
      schema: { summary: 'Create a token; the secret is in this response only', body: TokenCreateRequestSchema, response: { 201: TokenCreateResponseSchema } },
    },
    async (request, reply) => {
      const a = workspaceAccess(request);
      const created = await issueToken(ctx, a, request.body);
      request.log.info({ token: created.info.id, kind: created.info.kind, by: `${a.actor.kind}:${a.actor.id}` }, 'token created');
      return reply.status(201).send(created);
    },
  );

  app.delete(
    '/tokens/:id',
    {
      config: { ...admin, audit: { action: 'token.revoke', target: fromParam('id') } },
      schema: { summary: 'Revoke a token; connections using it close at once', params: IdParamsSchema, response: { 204: Type.Null(), 404: ErrorBodySchema } },
    },
    async (request, reply) => {
      const a = workspaceAccess(request);
      await withdrawToken(ctx, a, request.params.id);
      request.log.info({ token: request.params.id, by: `${a.actor.kind}:${a.actor.id}` }, 'token revoked');
      return reply.status(204).send(null);
    },
  );
};
