/**
 * One workspace: what it is, its cache setting, renaming, deleting (the name
 * typed again) and its live event stream. Mounted per workspace (mounts.ts):
 * the token's workspace is /api/v1/workspace, a named one
 * /api/v1/workspaces/:workspace; renaming, deleting and the event stream are
 * only on the named paths.
 */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import { Type } from '@sinclair/typebox';
import {
  DroverError,
  ErrorBodySchema,
  WorkspaceCacheRequestSchema,
  WorkspaceDeleteQuerySchema,
  WorkspaceRenameRequestSchema,
  WorkspaceSchema,
} from '@drover/protocol';
import { getWorkspaceById, renameWorkspace, setWorkspaceCache, toWorkspaceApi } from '../../workspaces/repository.js';
import { deleteWorkspace } from '../../workspaces/service.js';
import { access, workspaceAccess } from '../access.js';
import { field } from '../audit.js';
import type { WorkspaceRoutes } from '../mounts.js';
import { streamWorkspaceEvents } from '../workspace-events.js';

export const workspaceRoutes: WorkspaceRoutes = async (app, ctx, mount) => {
  app.get(
    mount.self,
    {
      config: { access: access.workspace('read') },
      schema: { summary: mount.named ? 'One workspace' : "The token's workspace", response: { 200: WorkspaceSchema, 404: ErrorBodySchema } },
    },
    async (request) => {
      const a = workspaceAccess(request);
      return toWorkspaceApi(await getWorkspaceById(ctx.db, a.workspaceId), a.role);
    },
  );

  app.put(
    `${mount.self}/cache`,
    {
      config: {
        access: access.workspace('admin'),
        audit: {
          action: 'workspace.set-cache',
          target: (request) => workspaceAccess(request).workspaceName,
          details: (request) => ({ substituter: field(request.body, 'substituter'), publicKey: field(request.body, 'publicKey') }),
        },
      },
      schema: { summary: 'Set the binary cache agents substitute from', body: WorkspaceCacheRequestSchema, response: { 200: WorkspaceSchema } },
    },
    async (request) => {
      const a = workspaceAccess(request);
      return toWorkspaceApi(await setWorkspaceCache(ctx.db, a.workspaceId, request.body), a.role);
    },
  );

  if (!mount.named) return;

  app.patch(
    mount.self,
    {
      config: {
        access: access.workspace('admin'),
        audit: {
          action: 'workspace.rename',
          target: (request) => workspaceAccess(request).workspaceName,
          details: (request) => ({ to: field(request.body, 'name') }),
        },
      },
      schema: { summary: 'Rename a workspace', body: WorkspaceRenameRequestSchema, response: { 200: WorkspaceSchema, 409: ErrorBodySchema } },
    },
    async (request) => {
      const a = workspaceAccess(request);
      const row = await renameWorkspace(ctx.db, a.workspaceId, request.body.name);
      request.log.info({ workspace: a.workspaceName, to: row.name, by: `${a.actor.kind}:${a.actor.id}` }, 'workspace renamed');
      return toWorkspaceApi(row, a.role);
    },
  );

  app.delete(
    mount.self,
    {
      config: { access: access.workspace('admin'), audit: { action: 'workspace.delete', target: (request) => workspaceAccess(request).workspaceName } },
      schema: {
        summary: 'Delete a workspace with its agents, tokens and deployments; ?confirm= must repeat its name',
        querystring: WorkspaceDeleteQuerySchema,
        response: { 204: Type.Null(), 400: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const a = workspaceAccess(request);
      if (request.query.confirm !== a.workspaceName) {
        throw new DroverError(
          'DROVER_ERR_CONFIRMATION',
          `to delete workspace ${a.workspaceName}, pass confirm=${a.workspaceName} (got ${JSON.stringify(request.query.confirm)})`,
        );
      }
      await deleteWorkspace(ctx.db, ctx.bus, a.workspaceId);
      request.log.info({ workspace: a.workspaceName, by: `${a.actor.kind}:${a.actor.id}` }, 'workspace deleted');
      return reply.status(204).send(null);
    },
  );

  app.get(
    `${mount.self}/events`,
    { config: { access: access.workspace('read') }, schema: { summary: 'Live changes of agents and deployments of the workspace (server-sent events)' } },
    async (request, reply) => {
      const a = workspaceAccess(request);
      streamWorkspaceEvents(ctx, request, reply, { id: a.workspaceId, name: a.workspaceName }, a.credential);
    },
  );
};
