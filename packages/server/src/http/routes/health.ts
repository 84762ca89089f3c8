/** Liveness, metrics, and the agent's post-activation reachability check. */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import { Type } from '@sinclair/typebox';
import { access } from '../access.js';
import type { Routes } from '../mounts.js';

export const healthRoutes: Routes = async (app, ctx) => {
  app.get(
    '/api/v1/health',
    {
      config: { access: access.public },
      schema: {
        summary: 'Liveness of this server process',
        response: {
          200: Type.Object({
            status: Type.Literal('ok'),
            database: Type.String(),
            /** Which replica (or --workers process) answered. */
            replica: Type.String(),
            agentsConnected: Type.Integer(),
          }),
        },
      },
    },
    async () => ({ status: 'ok' as const, database: ctx.dialect, replica: ctx.replicaId, agentsConnected: ctx.hub.size }),
  );
  app.get(
    '/metrics',
    { config: { access: access.token('admin') }, schema: { summary: 'Prometheus metrics of the whole server, all --workers summed (admin token)' } },
    async (_request, reply) => {
      return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.text());
    },
  );
  // Used by a deployment after activation: can this machine still reach the
  // server with its agent token? 204 means yes.
  app.get('/api/v1/agent/check', { config: { access: access.token('agent') } }, async (_request, reply) => reply.status(204).send());
};
