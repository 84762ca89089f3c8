/** Deployment status, history, logs, cancellation and re-runs (mounted per workspace, see app.ts). */
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
} from '@drover/protocol';
import type { ServerContext } from '../../context.js';
import {
  activationDeployments,
  cancelDeployment,
  deploymentJson,
  getDeployment,
  listDeployments,
  readLog,
  rerunPlan,
} from '../../deployments/repository.js';
import { authorize } from '../auth.js';
import { startDeployments } from './start-deployments.js';
import { streamDeploymentLogs } from '../log-stream.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const ListQuery = Type.Object({
  agent: Type.Optional(AgentNameSchema),
  status: Type.Optional(DeploymentStatusSchema),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});
const LogQuery = Type.Object({ after: Type.Optional(Type.Integer({ minimum: -1, default: -1 })) });

function wantsEventStream(accept: string | undefined): boolean {
  return !!accept && accept.includes('text/event-stream');
}

export async function deploymentRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/deployments',
    { schema: { summary: 'Deployment history, newest first', querystring: ListQuery, response: { 200: DeploymentListSchema } } },
    async (request) => {
      const p = await authorize(ctx, request, 'read');
      const { rows, total } = await listDeployments(ctx.db, p.workspaceId, {
        agentName: request.query.agent,
        status: request.query.status,
        limit: request.query.limit ?? 50,
        offset: request.query.offset,
      });
      return { deployments: rows.map((r) => deploymentJson(r, ctx.publicUrl)), total };
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/deployments/:id',
    { schema: { summary: 'One deployment', params: IdParams, response: { 200: DeploymentSchema, 404: ErrorBodySchema } } },
    async (request) => {
      const p = await authorize(ctx, request, 'read');
      return deploymentJson(await getDeployment(ctx.db, p.workspaceId, request.params.id), ctx.publicUrl);
    },
  );

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof LogQuery> }>(
    '/deployments/:id/log',
    {
      schema: {
        summary: 'A deployment log: JSON, or a live server-sent event stream with Accept: text/event-stream',
        params: IdParams,
        querystring: LogQuery,
        response: { 200: DeploymentLogSchema, 404: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const p = await authorize(ctx, request, 'read');
      const row = await getDeployment(ctx.db, p.workspaceId, request.params.id);
      if (wantsEventStream(request.headers.accept)) {
        // An EventSource that reconnects sends the seq of the last line it got.
        const lastEventId = Number(request.headers['last-event-id']);
        const after = request.query.after !== undefined && request.query.after >= 0 ? request.query.after : Number.isInteger(lastEventId) ? lastEventId : -1;
        return streamDeploymentLogs(ctx, request, reply, [row.id], after);
      }
      const lines = await readLog(ctx.db, row.id, request.query.after ?? -1, 100_000);
      return { deployment: deploymentJson(row, ctx.publicUrl), lines };
    },
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/deployments/:id/cancel',
    {
      schema: {
        summary: 'Cancel a deployment: Pending ones at once (200); InProgress ones are asked to stop and report Cancelled unless activation already began (202)',
        params: IdParams,
        response: { 200: DeploymentSchema, 202: DeploymentSchema, 409: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const p = await authorize(ctx, request, 'deploy');
      const { row, requested } = await cancelDeployment(ctx.db, p.workspaceId, request.params.id, p.actor);
      await ctx.bus.publish({ kind: 'cancel', agentId: row.agent_id, deploymentId: row.id });
      if (!requested) await ctx.bus.publish({ kind: 'deployment-changed', deploymentIds: [row.id] });
      request.log.info({ deployment: row.id, by: `${p.actor.kind}:${p.actor.id}`, requested }, 'deployment cancelled');
      return reply.status(requested ? 202 : 200).send(deploymentJson(row, ctx.publicUrl));
    },
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/deployments/:id/rerun',
    {
      schema: {
        summary: 'Deploy the same store path to the same agent again, as a new deployment',
        params: IdParams,
        response: { 201: DeploymentSchema, 404: ErrorBodySchema, 409: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const p = await authorize(ctx, request, 'deploy');
      const row = await getDeployment(ctx.db, p.workspaceId, request.params.id);
      const [deployment] = await startDeployments(ctx, p, [rerunPlan(row)]);
      return reply.status(201).send(deployment);
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/activations/:id',
    { schema: { summary: 'The deployments one activate call created', params: IdParams, response: { 200: DeploymentListSchema } } },
    async (request) => {
      const p = await authorize(ctx, request, 'read');
      const rows = await activationDeployments(ctx.db, p.workspaceId, request.params.id);
      if (rows.length === 0) throw new DroverError('DROVER_ERR_DEPLOYMENT_NOT_FOUND', `activation ${request.params.id} does not exist in this workspace`);
      return { deployments: rows.map((r) => deploymentJson(r, ctx.publicUrl)) };
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/activations/:id/events',
    { schema: { summary: 'Live logs and status of every deployment of one activation (server-sent events)', params: IdParams } },
    async (request, reply) => {
      const p = await authorize(ctx, request, 'read');
      const rows = await activationDeployments(ctx.db, p.workspaceId, request.params.id);
      if (rows.length === 0) throw new DroverError('DROVER_ERR_DEPLOYMENT_NOT_FOUND', `activation ${request.params.id} does not exist in this workspace`);
      return streamDeploymentLogs(ctx, request, reply, rows.map((r) => r.id));
    },
  );
}
