/**
 * Workspaces: listing what the caller can see, creating (global admins),
 * renaming, deleting (the name typed again), the cache setting, and the live
 * event stream of one workspace. Tokens see only their own workspace; the
 * old token paths /api/v1/workspace… stay for the CLI.
 */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import {
  DroverError,
  ErrorBodySchema,
  WorkspaceCacheRequestSchema,
  WorkspaceCreateRequestSchema,
  WorkspaceDeleteQuerySchema,
  WorkspaceListSchema,
  WorkspaceRenameRequestSchema,
  WorkspaceSchema,
  type Workspace,
} from '@drover/protocol';
import type { ServerContext } from '../../context.js';
import {
  createWorkspace,
  deleteWorkspace,
  getWorkspaceById,
  renameWorkspace,
  setWorkspaceCache,
  visibleWorkspaces,
  workspaceJson,
} from '../../workspaces/workspaces.js';
import { authenticateUser, authorize, requireGlobalAdmin, usesToken, type Access } from '../auth.js';
import { streamWorkspaceEvents } from '../workspace-events.js';

const WorkspaceParams = Type.Object({ workspace: Type.String({ maxLength: 64 }) });
type WorkspaceRequest = { Params: Static<typeof WorkspaceParams> };

export async function workspaceRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const describe = async (a: Access): Promise<Workspace> => ({ ...workspaceJson(await getWorkspaceById(ctx.db, a.workspaceId)), role: a.role });
  const setCache = async (request: FastifyRequest<{ Body: Static<typeof WorkspaceCacheRequestSchema> }>): Promise<Workspace> => {
    const a = await authorize(ctx, request, 'admin');
    return { ...workspaceJson(await setWorkspaceCache(ctx.db, a.workspaceId, request.body)), role: a.role };
  };
  const cacheSchema = { summary: 'Set the binary cache agents substitute from', body: WorkspaceCacheRequestSchema, response: { 200: WorkspaceSchema } };

  app.get('/api/v1/workspace', { schema: { summary: "The token's workspace", response: { 200: WorkspaceSchema } } }, async (request) =>
    describe(await authorize(ctx, request, 'read')),
  );
  app.put<{ Body: Static<typeof WorkspaceCacheRequestSchema> }>('/api/v1/workspace/cache', { schema: cacheSchema }, setCache);

  app.get('/api/v1/workspaces', { schema: { summary: 'Workspaces the caller can see, with its role in each', response: { 200: WorkspaceListSchema } } }, async (request) => {
    if (usesToken(request)) {
      return { workspaces: [await describe(await authorize(ctx, request, 'read'))] };
    }
    const { roles } = await authenticateUser(ctx, request);
    return { workspaces: await visibleWorkspaces(ctx.db, roles) };
  });

  app.post<{ Body: Static<typeof WorkspaceCreateRequestSchema> }>(
    '/api/v1/workspaces',
    { schema: { summary: 'Create a workspace (global admins)', body: WorkspaceCreateRequestSchema, response: { 201: WorkspaceSchema, 409: ErrorBodySchema } } },
    async (request, reply) => {
      const { signedIn } = await requireGlobalAdmin(ctx, request);
      const row = await createWorkspace(ctx.db, request.body.name);
      request.log.info({ workspace: row.name, by: `user:${signedIn.user.name}` }, 'workspace created');
      return reply.status(201).send({ ...workspaceJson(row), role: 'admin' });
    },
  );

  app.get<WorkspaceRequest>(
    '/api/v1/workspaces/:workspace',
    { schema: { summary: 'One workspace', params: WorkspaceParams, response: { 200: WorkspaceSchema, 404: ErrorBodySchema } } },
    async (request) => describe(await authorize(ctx, request, 'read')),
  );

  app.patch<WorkspaceRequest & { Body: Static<typeof WorkspaceRenameRequestSchema> }>(
    '/api/v1/workspaces/:workspace',
    { schema: { summary: 'Rename a workspace', params: WorkspaceParams, body: WorkspaceRenameRequestSchema, response: { 200: WorkspaceSchema, 409: ErrorBodySchema } } },
    async (request) => {
      const a = await authorize(ctx, request, 'admin');
      const row = await renameWorkspace(ctx.db, a.workspaceId, request.body.name);
      request.log.info({ workspace: a.workspaceName, to: row.name, by: `${a.actor.kind}:${a.actor.id}` }, 'workspace renamed');
      return { ...workspaceJson(row), role: a.role };
    },
  );

  app.delete<WorkspaceRequest & { Querystring: Static<typeof WorkspaceDeleteQuerySchema> }>(
    '/api/v1/workspaces/:workspace',
    {
      schema: {
        summary: 'Delete a workspace with its agents, tokens and deployments; ?confirm= must repeat its name',
        params: WorkspaceParams,
        querystring: WorkspaceDeleteQuerySchema,
        response: { 204: Type.Null(), 400: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const a = await authorize(ctx, request, 'admin');
      if (request.query.confirm !== a.workspaceName) {
        throw new DroverError('DROVER_ERR_CONFIRMATION', `to delete workspace ${a.workspaceName}, pass confirm=${a.workspaceName} (got ${JSON.stringify(request.query.confirm)})`);
      }
      const tokenIds = await deleteWorkspace(ctx.db, a.workspaceId);
      // Agents connected with the workspace's tokens go at once, on every replica.
      for (const tokenId of tokenIds) await ctx.bus.publish({ kind: 'token-revoked', tokenId });
      request.log.info({ workspace: a.workspaceName, by: `${a.actor.kind}:${a.actor.id}` }, 'workspace deleted');
      return reply.status(204).send();
    },
  );

  app.put<WorkspaceRequest & { Body: Static<typeof WorkspaceCacheRequestSchema> }>(
    '/api/v1/workspaces/:workspace/cache',
    { schema: { ...cacheSchema, params: WorkspaceParams } },
    setCache,
  );

  app.get<WorkspaceRequest>(
    '/api/v1/workspaces/:workspace/events',
    { schema: { summary: 'Live changes of agents and deployments of the workspace (server-sent events)', params: WorkspaceParams } },
    async (request, reply) => {
      const a = await authorize(ctx, request, 'read');
      streamWorkspaceEvents(ctx, request, reply, { id: a.workspaceId, name: a.workspaceName });
    },
  );
}
