/** Deployment status, history, logs, cancellation, an operator's end, re-runs and an activation's live events (mounted per workspace, see app.ts; the activation view is in activations.ts). */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import { Type } from '@sinclair/typebox';
import {
  AgentNameSchema,
  DeploymentEndRequestSchema,
  DeploymentListSchema,
  DeploymentLogSchema,
  DeploymentDetailSchema,
  DeploymentSchema,
  DeploymentStatusSchema,
  DroverError,
  ErrorBodySchema,
  IdParamsSchema,
  MAX_LOG_SEQ,
  OffsetSchema,
  SafeInteger,
} from '@drover/protocol';
import { activationDeployments, getDeployment, listDeployments, MAX_LOG_PAGE_LINES, readLogPage, toDeploymentApi } from '../../deployments/repository.js';
import { cancel, endInProgress, rerun } from '../../deployments/service.js';
import { neighbours } from '../../deployments/diffs-repository.js';
import { access, workspaceAccess } from '../access.js';
import { field, fromParam } from '../audit.js';
import type { WorkspaceRoutes } from '../mounts.js';
import { streamDeploymentLogs } from '../log-stream.js';
const ListQuery = Type.Object({
  agent: Type.Optional(AgentNameSchema),
  /** Partial, case-insensitive: agents whose name contains this. */
  agentContains: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  /** Partial, case-insensitive: store paths that contain this (a hash prefix, a name). */
  path: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
  status: Type.Optional(DeploymentStatusSchema),
  limit: Type.Optional(SafeInteger({ minimum: 1, maximum: 1000, default: 50 })),
  offset: Type.Optional(OffsetSchema),
});
const LogQuery = Type.Object({
  /** Forward page: the lines after this seq (the whole log from -1). Also where a stream resumes. */
  after: Type.Optional(SafeInteger({ minimum: -1, maximum: MAX_LOG_SEQ })),
  /** Backward page: the newest lines before this seq. */
  before: Type.Optional(SafeInteger({ minimum: 0, maximum: MAX_LOG_SEQ })),
  /** Backward page from the end: the newest lines. */
  tail: Type.Optional(Type.Boolean()),
  limit: Type.Optional(SafeInteger({ minimum: 1, maximum: MAX_LOG_PAGE_LINES, default: 1000 })),
});

function wantsEventStream(accept: string | undefined): boolean {
  return !!accept && accept.includes('text/event-stream');
}

export const deploymentRoutes: WorkspaceRoutes = async (app, ctx) => {
  const read = { access: access.workspace('read') };
  const deploy = { access: access.workspace('deploy') };
  app.get(
    '/deployments',
    { config: read, schema: { summary: 'Deployment history, newest first', querystring: ListQuery, response: { 200: DeploymentListSchema } } },
    async (request) => {
      const p = workspaceAccess(request);
      const { rows, total } = await listDeployments(ctx.db, p.workspaceId, {
        agentName: request.query.agent,
        agentContains: request.query.agentContains,
        pathContains: request.query.path,
        status: request.query.status,
        limit: request.query.limit ?? 50,
        offset: request.query.offset,
      });
      return { deployments: rows.map((r) => toDeploymentApi(r, ctx.publicUrl)), total };
    },
  );

  app.get(
    '/deployments/:id',
    {
      config: read,
      schema: {
        summary: "One deployment, with its closure diff, the agent's previous deployment and (Superseded) the one that replaced it",
        params: IdParamsSchema,
        response: { 200: DeploymentDetailSchema, 404: ErrorBodySchema },
      },
    },
    async (request) => {
      const p = workspaceAccess(request);
      const row = await getDeployment(ctx.db, p.workspaceId, request.params.id);
      return { ...toDeploymentApi(row, ctx.publicUrl), ...(await neighbours(ctx.db, row)) };
    },
  );

  app.get(
    '/deployments/:id/log',
    {
      config: read,
      schema: {
        summary:
          'A deployment log: one JSON page (after=SEQ forward, before=SEQ or tail=true backward, limit ≤ 5000; `next`/`previous` are the cursors), or a live server-sent event stream with Accept: text/event-stream',
        params: IdParamsSchema,
        querystring: LogQuery,
        response: { 200: DeploymentLogSchema, 404: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const p = workspaceAccess(request);
      const row = await getDeployment(ctx.db, p.workspaceId, request.params.id);
      if (wantsEventStream(request.headers.accept)) {
        // An EventSource that reconnects sends the seq of the last line it got.
        const lastEventId = Number(request.headers['last-event-id']);
        const resumeAfter =
          request.query.after !== undefined && request.query.after >= 0 ? request.query.after : Number.isInteger(lastEventId) ? lastEventId : -1;
        return streamDeploymentLogs(ctx, request, reply, { ids: [row.id], credential: p.credential, resumeAfter });
      }
      const { after, before, tail, limit } = request.query;
      if (after !== undefined && (before !== undefined || tail === true)) {
        throw new DroverError('DROVER_ERR_VALIDATION', 'a log page goes either forward (after) or backward (before, tail), not both');
      }
      const from = before !== undefined || tail === true ? { before: before ?? null } : { after: after ?? -1 };
      const page = await readLogPage(ctx.db, row.id, from, limit ?? 1000);
      return { deployment: toDeploymentApi(row, ctx.publicUrl), ...page };
    },
  );

  app.post(
    '/deployments/:id/cancel',
    {
      config: {
        ...deploy,
        audit: { action: 'deployment.cancel', target: fromParam('id'), details: (_request, response) => ({ status: field(response.body(), 'status') }) },
      },
      schema: {
        summary:
          'Cancel a deployment: Pending ones at once (200); InProgress ones are asked to stop and report Cancelled unless activation already began (202)',
        params: IdParamsSchema,
        response: { 200: DeploymentSchema, 202: DeploymentSchema, 409: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const p = workspaceAccess(request);
      const { deployment, requested } = await cancel(ctx, p, request.params.id);
      request.log.info({ deployment: deployment.id, by: `${p.actor.kind}:${p.actor.id}`, requested }, 'deployment cancelled');
      return reply.status(requested ? 202 : 200).send(deployment);
    },
  );

  app.post(
    '/deployments/:id/end',
    {
      config: { ...deploy, audit: { action: 'deployment.end', target: fromParam('id'), details: (request) => ({ reason: field(request.body, 'reason') }) } },
      schema: {
        summary:
          "End an InProgress deployment whose agent never reported: it becomes Failed with who and why; the agent's own report, if it comes later, replaces that",
        params: IdParamsSchema,
        body: DeploymentEndRequestSchema,
        response: { 200: DeploymentSchema, 404: ErrorBodySchema, 409: ErrorBodySchema },
      },
    },
    async (request) => {
      const p = workspaceAccess(request);
      const deployment = await endInProgress(ctx, p, request.params.id, request.body.reason);
      request.log.warn({ deployment: deployment.id, by: `${p.actor.kind}:${p.actor.id}`, reason: request.body.reason }, 'deployment ended by an operator');
      return deployment;
    },
  );

  app.post(
    '/deployments/:id/rerun',
    {
      config: {
        ...deploy,
        audit: { action: 'deployment.rerun', target: fromParam('id'), details: (_request, response) => ({ deployment: field(response.body(), 'id') }) },
      },
      schema: {
        summary: 'Deploy the same store path to the same agent again, as a new deployment',
        params: IdParamsSchema,
        response: { 201: DeploymentSchema, 404: ErrorBodySchema, 409: ErrorBodySchema },
      },
    },
    async (request, reply) => reply.status(201).send(await rerun(ctx, workspaceAccess(request), request.params.id)),
  );

  app.get(
    '/activations/:id/events',
    { config: read, schema: { summary: 'Live logs and status of every deployment of one activation (server-sent events)', params: IdParamsSchema } },
    async (request, reply) => {
      const p = workspaceAccess(request);
      const rows = await activationDeployments(ctx.db, p.workspaceId, request.params.id);
      if (rows.length === 0) throw new DroverError('DROVER_ERR_DEPLOYMENT_NOT_FOUND', `activation ${request.params.id} does not exist in this workspace`);
      streamDeploymentLogs(ctx, request, reply, { ids: rows.map((r) => r.id), credential: p.credential });
    },
  );
};
