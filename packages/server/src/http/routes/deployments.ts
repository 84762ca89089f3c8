/** Deployment status, history, logs and cancellation. */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import {
  AgentNameSchema,
  DeploymentListSchema,
  DeploymentLogSchema,
  DeploymentSchema,
  DeploymentStatusSchema,
  DroverError,
  ErrorBodySchema,
  Uuid,
} from '@drover/protocol';
import type { ServerContext } from '../../context.js';
import {
  activationDeployments,
  cancelDeployment,
  deploymentJson,
  getDeployment,
  listDeployments,
  readLog,
} from '../../deployments/repository.js';
import { authenticate } from '../auth.js';
import { streamDeploymentLogs } from '../log-stream.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const ListQuery = Type.Object({
  agent: Type.Optional(AgentNameSchema),
  status: Type.Optional(DeploymentStatusSchema),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
});
const LogQuery = Type.Object({ after: Type.Optional(Type.Integer({ minimum: -1, default: -1 })) });

function wantsEventStream(accept: string | undefined): boolean {
  return !!accept && accept.includes('text/event-stream');
}

export async function deploymentRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/v1/deployments',
    { schema: { summary: 'Deployment history, newest first', querystring: ListQuery, response: { 200: DeploymentListSchema } } },
    async (request) => {
      const p = await authenticate(ctx, request, 'read');
      const rows = await listDeployments(ctx.db, p.workspaceId, {
        agentName: request.query.agent,
        status: request.query.status,
        limit: request.query.limit ?? 50,
      });
      return { deployments: rows.map((r) => deploymentJson(r, ctx.publicUrl)) };
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/v1/deployments/:id',
    { schema: { summary: 'One deployment', params: IdParams, response: { 200: DeploymentSchema, 404: ErrorBodySchema } } },
    async (request) => {
      const p = await authenticate(ctx, request, 'read');
      return deploymentJson(await getDeployment(ctx.db, p.workspaceId, request.params.id), ctx.publicUrl);
    },
  );

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof LogQuery> }>(
    '/api/v1/deployments/:id/log',
    {
      schema: {
        summary: 'A deployment log: JSON, or a live server-sent event stream with Accept: text/event-stream',
        params: IdParams,
        querystring: LogQuery,
        response: { 200: DeploymentLogSchema, 404: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const p = await authenticate(ctx, request, 'read');
      const row = await getDeployment(ctx.db, p.workspaceId, request.params.id);
      if (wantsEventStream(request.headers.accept)) return streamDeploymentLogs(ctx, request, reply, [row.id]);
      const lines = await readLog(ctx.db, row.id, request.query.after ?? -1, 100_000);
      return { deployment: deploymentJson(row, ctx.publicUrl), lines };
    },
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/api/v1/deployments/:id/cancel',
    { schema: { summary: 'Cancel a Pending deployment', params: IdParams, response: { 200: DeploymentSchema, 409: ErrorBodySchema } } },
    async (request) => {
      const p = await authenticate(ctx, request, 'activate');
      const row = await cancelDeployment(ctx.db, p.workspaceId, request.params.id);
      await ctx.bus.publish({ kind: 'cancel', agentId: row.agent_id, deploymentId: row.id });
      await ctx.bus.publish({ kind: 'deployment-changed', deploymentIds: [row.id] });
      return deploymentJson(row, ctx.publicUrl);
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/v1/activations/:id',
    { schema: { summary: 'The deployments one activate call created', params: IdParams, response: { 200: DeploymentListSchema } } },
    async (request) => {
      const p = await authenticate(ctx, request, 'read');
      const rows = await activationDeployments(ctx.db, p.workspaceId, request.params.id);
      if (rows.length === 0) throw new DroverError('DROVER_ERR_DEPLOYMENT_NOT_FOUND', `activation ${request.params.id} does not exist in this workspace`);
      return { deployments: rows.map((r) => deploymentJson(r, ctx.publicUrl)) };
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/api/v1/activations/:id/events',
    { schema: { summary: 'Live logs and status of every deployment of one activation (server-sent events)', params: IdParams } },
    async (request, reply) => {
      const p = await authenticate(ctx, request, 'read');
      const rows = await activationDeployments(ctx.db, p.workspaceId, request.params.id);
      if (rows.length === 0) throw new DroverError('DROVER_ERR_DEPLOYMENT_NOT_FOUND', `activation ${request.params.id} does not exist in this workspace`);
      return streamDeploymentLogs(ctx, request, reply, rows.map((r) => r.id));
    },
  );
}
