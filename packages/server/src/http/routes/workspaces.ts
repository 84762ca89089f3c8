/**
 * The list of workspaces (what the caller can see: a token its own, a user
 * those it holds a role in) and creating one (global admins). What acts on
 * one workspace is in workspace.ts, mounted per workspace.
 */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import { ErrorBodySchema, WorkspaceCreateRequestSchema, WorkspaceListSchema, WorkspaceSchema } from '@drover/protocol';
import { createWorkspace, getWorkspaceById, toWorkspaceApi } from '../../workspaces/repository.js';
import { visibleWorkspaces } from '../../workspaces/service.js';
import { access, callerAccess, userAccess } from '../access.js';
import { fromBody } from '../audit.js';
import type { Routes } from '../mounts.js';

export const workspacesRoutes: Routes = async (app, ctx) => {
  app.get(
    '/api/v1/workspaces',
    { config: { access: access.caller }, schema: { summary: 'Workspaces the caller can see, with its role in each', response: { 200: WorkspaceListSchema } } },
    async (request) => {
      const caller = callerAccess(request);
      if ('workspace' in caller) return { workspaces: [toWorkspaceApi(await getWorkspaceById(ctx.db, caller.workspace.workspaceId), caller.workspace.role)] };
      return { workspaces: await visibleWorkspaces(ctx.db, caller.user.roles) };
    },
  );

  app.post(
    '/api/v1/workspaces',
    {
      config: { access: access.globalAdmin, audit: { action: 'workspace.create', target: fromBody('name'), workspace: fromBody('name') } },
      schema: { summary: 'Create a workspace (global admins)', body: WorkspaceCreateRequestSchema, response: { 201: WorkspaceSchema, 409: ErrorBodySchema } },
    },
    async (request, reply) => {
      const row = await createWorkspace(ctx.db, request.body.name);
      request.log.info({ workspace: row.name, by: `user:${userAccess(request)?.signedIn.user.name ?? ''}` }, 'workspace created');
      return reply.status(201).send(toWorkspaceApi(row, 'admin'));
    },
  );
};
