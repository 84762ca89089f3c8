/**
 * The Cachix Deploy protocol beside Drover's own (cachix/ and
 * docs/migrating-from-cachix.md): an unmodified `cachix deploy agent` and
 * `cachix deploy activate` (cachix ≥ 1.2) talk to these paths with Drover's
 * agent and activate tokens. Every route parses and hands over: the agent's
 * `/ws` goes to the hub in the Cachix dialect, reports to cachix/reports.ts,
 * activations to the one deployments service. REST answers are exactly 200
 * with JSON, as the Cachix client demands.
 */
import type { FastifyRequest } from 'fastify';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ActivateRequestSchema, CLOSE_CODES, isAgentName, isSystem, isUuid, type ActivateRequest } from '@drover/protocol';
import { deploymentUrl, getDeployment } from '../../deployments/repository.js';
import { activate, deploySpecShapeError } from '../../deployments/service.js';
import { CachixDialect, cachixHello } from '../../cachix/agent-dialect.js';
import { acceptLogUpload, acceptSubprocess, cachixAgentOf } from '../../cachix/agent-sockets.js';
import { holdFrames } from '../held-frames.js';
import { watchLog } from '../../cachix/log-watch.js';
import { refuseOrder } from '../../cachix/reports.js';
import { CachixResend } from '../../cachix/resend.js';
import { cachixCacheFor } from '../../cachix/cache.js';
import { cachixStatus } from '../../cachix/wire.js';
import { access, tokenAccess, workspaceAccess } from '../access.js';
import { valueAt, type AuditDeclaration } from '../audit.js';
import type { Routes } from '../mounts.js';
import type { Access } from '../../auth/access.js';
import type { ServerContext } from '../../context.js';
import { admitAgentSocket } from './agent-admission.js';

const spec = TypeCompiler.Compile(ActivateRequestSchema);

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** A Cachix deploy.json, of which only `agents` and `rollbackScript` mean anything, through the one deployments service. */
async function activateSpec(ctx: ServerContext, a: Access, body: unknown) {
  const given = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const trimmed: unknown = { agents: given['agents'], ...(given['rollbackScript'] != null ? { rollbackScript: given['rollbackScript'] } : {}) };
  const error = deploySpecShapeError(trimmed, spec.Check(trimmed));
  if (error) throw error;
  // Cachix deploys every agent named, already on its path or not, from whatever caches its machines use.
  const { created, agents } = await activate(ctx, a, trimmed as ActivateRequest, { cacheCheck: false, force: true });
  const names = new Map(agents.map((agent) => [agent.id, agent.name]));
  return created.rows.flatMap((row) => {
    const name = names.get(row.agent_id);
    return name === undefined ? [] : [{ name, id: row.id, url: deploymentUrl(ctx.publicUrl, a.workspaceName, row.id) }];
  });
}

export const cachixRoutes: Routes = async (app, ctx) => {
  const resend = new CachixResend(ctx);
  app.addHook('onClose', async () => resend.close());

  app.get(
    '/ws',
    { websocket: true, config: { access: access.token('agent') }, preHandler: admitAgentSocket(ctx), schema: { hide: true } },
    async (socket, request) => {
      const principal = tokenAccess(request);
      const name = header(request, 'name');
      const system = header(request, 'system');
      if (!isAgentName(name) || !isSystem(system)) {
        socket.close(CLOSE_CODES.badFrame, 'the "name" and "system" headers must name an agent and a Nix system');
        return;
      }
      const hello = cachixHello({ name, system, version: (header(request, 'version') ?? 'unknown').slice(0, 64), address: request.ip });
      // Frames sent while the cache is read go to the hub once it listens (http/held-frames.ts).
      const release = holdFrames(socket);
      const cache = await cachixCacheFor(ctx, principal.workspaceId).catch((err: unknown) => {
        request.log.warn({ err }, 'could not read the cache for a Cachix agent; it reconnects');
        socket.close(1011, 'server error; reconnect');
        return undefined;
      });
      // Closed while the cache was read: nothing to register.
      if (cache === undefined || socket.readyState !== socket.OPEN) {
        release();
        return;
      }
      const workspaceId = principal.workspaceId;
      const dialect = new CachixDialect(hello, workspaceId, cache, {
        refuse: (agentId, orderId, reason) => refuseOrder(ctx, { id: agentId, name, workspaceId }, orderId, reason),
      });
      const untrack = resend.track(dialect);
      socket.on('close', untrack);
      ctx.hub.accept(socket, principal, dialect);
      release();
    },
  );

  app.get('/ws-deployment', { websocket: true, config: { access: access.token('agent') }, schema: { hide: true } }, async (socket, request) => {
    // The subprocess reports DeploymentStarted as soon as the socket opens: held while its agent is looked up.
    const release = holdFrames(socket);
    const agent = await cachixAgentOf(ctx, tokenAccess(request), header(request, 'name'));
    if ('error' in agent) socket.close(CLOSE_CODES.forbidden, agent.error);
    else acceptSubprocess(ctx, socket, agent);
    release();
  });

  const uploadOrView = access.choice({ upload: access.token('agent'), view: access.workspace('read') }, (request) =>
    (request.query as Record<string, unknown>)['view'] === 'true' ? 'view' : 'upload',
  );
  app.get<{ Params: { id: string } }>(
    '/api/v1/deploy/log/:id',
    { websocket: true, config: { access: uploadOrView }, schema: { hide: true } },
    async (socket, request) => {
      const id = request.params.id.toLowerCase();
      if (request.droverAccess?.kind === 'workspace') {
        const found = isUuid(id) ? await getDeployment(ctx.db, workspaceAccess(request).workspaceId, id).catch(() => null) : null;
        if (!found) socket.close(CLOSE_CODES.forbidden, 'no such deployment in this workspace');
        else watchLog(ctx, socket, found.id);
        return;
      }
      // The first log line comes as soon as the socket opens: held while its agent is looked up.
      const release = holdFrames(socket);
      const agent = await cachixAgentOf(ctx, tokenAccess(request), header(request, 'name'));
      if ('error' in agent) socket.close(CLOSE_CODES.forbidden, agent.error);
      else if (!isUuid(id)) socket.close(CLOSE_CODES.forbidden, 'the deployment id is not a UUID');
      else acceptLogUpload(ctx, socket, agent, id);
      release();
    },
  );

  /** Both shapes are recorded as our own activations are, marked as coming through the Cachix API; the agents are the answer's keys. */
  const cachixActivationAudit: AuditDeclaration = {
    action: 'activation.create',
    details: (_request, response) => {
      const agents = valueAt(response.body(), 'agents');
      return { via: 'cachix', agents: typeof agents === 'object' && agents !== null ? Object.keys(agents).join(',') : undefined };
    },
  };

  app.post(
    '/api/v2/deploy/activate',
    { config: { access: access.workspace('deploy'), audit: cachixActivationAudit }, schema: { hide: true } },
    async (request) => {
      const created = await activateSpec(ctx, workspaceAccess(request), request.body);
      return { agents: Object.fromEntries(created.map((d) => [d.name, { id: d.id, url: d.url }])) };
    },
  );

  app.post(
    '/api/v1/deploy/activate',
    { config: { access: access.workspace('deploy'), audit: cachixActivationAudit }, schema: { hide: true } },
    async (request) => {
      const created = await activateSpec(ctx, workspaceAccess(request), request.body);
      return { agents: Object.fromEntries(created.map((d) => [d.name, d.url])) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/deploy/deployment/:id',
    { config: { access: access.workspace('read') }, schema: { hide: true } },
    async (request) => {
      const d = await getDeployment(ctx.db, workspaceAccess(request).workspaceId, request.params.id.toLowerCase());
      return {
        id: d.id,
        index: d.index_no,
        createdOn: d.created_at,
        startedOn: d.started_at,
        finishedOn: d.finished_at,
        storePath: d.store_path,
        closureSize: d.closure_size,
        status: cachixStatus(d.status),
      };
    },
  );
};
