/**
 * Reading the audit log: a workspace's entries (its admins: admin role or
 * admin token; mounted per workspace, see mounts.ts), and every entry,
 * server-wide ones included (global admins). Paged newest first, filtered
 * by action, actor, target and time. What is recorded is declared per route
 * (http/audit.ts).
 */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import { AuditAllQuerySchema, AuditListSchema, AuditQuerySchema, type AuditList } from '@drover/protocol';
import type { Static } from '@sinclair/typebox';
import { listAuditEntries, type AuditWorkspaceFilter } from '../../audit/repository.js';
import { findWorkspace } from '../../workspaces/repository.js';
import type { ServerContext } from '../../context.js';
import { access, workspaceAccess } from '../access.js';
import type { Routes, WorkspaceRoutes } from '../mounts.js';

async function page(ctx: ServerContext, workspace: AuditWorkspaceFilter, query: Static<typeof AuditQuerySchema>): Promise<AuditList> {
  const { entries, total } = await listAuditEntries(ctx.db, { ...query, ...workspace, limit: query.limit ?? 50 });
  return { entries, total, retentionDays: ctx.auditRetention.retentionDays };
}

export const auditRoutes: WorkspaceRoutes = async (app, ctx) => {
  app.get(
    '/audit',
    {
      config: { access: access.workspace('admin') },
      schema: { summary: "The workspace's audit log, newest first (admins)", querystring: AuditQuerySchema, response: { 200: AuditListSchema } },
    },
    async (request) => page(ctx, { workspaceId: workspaceAccess(request).workspaceId }, request.query),
  );
};

export const serverAuditRoutes: Routes = async (app, ctx) => {
  app.get(
    '/api/v1/admin/audit',
    {
      config: { access: access.globalAdmin },
      schema: {
        summary: 'The whole audit log: every workspace and the server-wide entries (global admins)',
        querystring: AuditAllQuerySchema,
        response: { 200: AuditListSchema },
      },
    },
    async (request) => {
      const { workspace, ...query } = request.query;
      if (workspace === undefined) return page(ctx, {}, query);
      // A deleted workspace's entries stay, under the name they were filed with.
      const row = await findWorkspace(ctx.db, workspace).catch(() => null);
      return page(ctx, row ? { workspaceId: row.id } : { workspaceName: workspace }, query);
    },
  );
};
