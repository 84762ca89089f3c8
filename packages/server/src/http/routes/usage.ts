/** GET …/usage: the workspace's agents per month, peak and agent-hours (mounted per workspace, see mounts.ts; rules in usage/). */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import { UsageQuerySchema, UsageSchema } from '@drover/protocol';
import { workspaceUsage } from '../../usage/service.js';
import { access, workspaceAccess } from '../access.js';
import type { WorkspaceRoutes } from '../mounts.js';

export const usageRoutes: WorkspaceRoutes = async (app, ctx) => {
  app.get(
    '/usage',
    {
      config: { access: access.workspace('read') },
      schema: {
        summary: 'Agents per UTC month: the most connected at once and agent-hours, newest first',
        querystring: UsageQuerySchema,
        response: { 200: UsageSchema },
      },
    },
    async (request) => {
      const a = workspaceAccess(request);
      return workspaceUsage(ctx.db, { id: a.workspaceId, name: a.workspaceName }, request.query.months ?? 12);
    },
  );
};
