/** Liveness, metrics, and the agent's post-activation reachability check. */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../../context.js';
import { authenticate } from '../auth.js';

export async function healthRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get(
    '/api/v1/health',
    {
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
  app.get('/metrics', { schema: { summary: 'Prometheus metrics of this server process (admin token)' } }, async (request, reply) => {
    await authenticate(ctx, request, 'admin');
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
  // Used by a deployment after activation: can this machine still reach the
  // server with its agent token? 204 means yes.
  app.get('/api/v1/agent/check', async (request, reply) => {
    await authenticate(ctx, request, 'agent');
    return reply.status(204).send();
  });
}
