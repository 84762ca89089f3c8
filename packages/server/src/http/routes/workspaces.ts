/** The token's workspace and its binary cache setting. */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import type { FastifyInstance } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { WorkspaceCacheRequestSchema, WorkspaceSchema } from '@drover/protocol';
import type { ServerContext } from '../../context.js';
import { getWorkspaceById, setWorkspaceCache, workspaceJson } from '../../workspaces/workspaces.js';
import { authenticate } from '../auth.js';

export async function workspaceRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get('/api/v1/workspace', { schema: { summary: "The token's workspace", response: { 200: WorkspaceSchema } } }, async (request) => {
    const p = await authenticate(ctx, request, 'read');
    return workspaceJson(await getWorkspaceById(ctx.db, p.workspaceId));
  });

  app.put<{ Body: Static<typeof WorkspaceCacheRequestSchema> }>(
    '/api/v1/workspace/cache',
    { schema: { summary: 'Set the binary cache agents substitute from', body: WorkspaceCacheRequestSchema, response: { 200: WorkspaceSchema } } },
    async (request) => {
      const p = await authenticate(ctx, request, 'admin');
      return workspaceJson(await setWorkspaceCache(ctx.db, p.workspaceId, request.body));
    },
  );
}
