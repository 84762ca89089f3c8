/**
 * The Fastify application: plugins, error handling and one plugin of routes
 * per area. Built from a ServerContext so tests can `inject` into it.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifyWebsocket from '@fastify/websocket';
import { CSRF_HEADER, DroverError, SESSION_COOKIE, MAX_FRAME_BYTES } from '@drover/protocol';
import type { ServerContext } from '../context.js';
import { installErrorHandlers } from './errors.js';
import { DEFAULT_BODY_IDLE_MS, installBodyIdleTimeout } from './body-idle.js';
import { lazySchemaController } from './lazy-schemas.js';
import { activateRoutes } from './routes/activate.js';
import { activationRoutes } from './routes/activations.js';
import { cacheAdminRoutes } from './routes/cache-admin.js';
import { agentSocketRoutes } from './routes/agent-socket.js';
import { agentRoutes } from './routes/agents.js';
import { secretRoutes } from './routes/secrets.js';
import { deploymentRoutes } from './routes/deployments.js';
import { healthRoutes } from './routes/health.js';
import { sessionRoutes } from './routes/session.js';
import { tokenRoutes } from './routes/tokens.js';
import { webRoutes } from './routes/web.js';
import { workspaceRoutes } from './routes/workspace.js';
import { workspacesRoutes } from './routes/workspaces.js';
import { access, installAccess } from './access.js';
import { installAudit } from './audit.js';
import { auditRoutes, serverAuditRoutes } from './routes/audit.js';
import { mountRoutes, mountWorkspaceRoutes } from './mounts.js';
import { cacheRoutes } from './routes/cache.js';
import { webhookRoutes } from './routes/webhooks.js';
import { usageRoutes } from './routes/usage.js';
import { cachixRoutes } from './routes/cachix.js';
import { installCacheFastPath } from './cache-fast-path.js';
import { version } from '../version.js';
import { installCacheHostSignatures, rewriteCacheHost } from '../cachix/cache.js';

/** Largest accepted request body: a deploy.json naming 10,000+ agents fits. */
const BODY_LIMIT_BYTES = 8 * 1024 * 1024;

export interface AppOptions {
  /** A request body silent this long fails with DROVER_ERR_REQUEST_TIMEOUT (408); default 30 s. */
  readonly bodyIdleMs?: number | undefined;
  /** Every route's schemas compiled as the routes are added (Fastify's default), not at each route's first call. */
  readonly compileSchemasAtStart?: boolean | undefined;
}

export async function buildApp(ctx: ServerContext, options: AppOptions = {}): Promise<FastifyInstance> {
  // Typed as Fastify's logger so the instance is the plain FastifyInstance the plugins take.
  const logger: FastifyBaseLogger = ctx.log.child({ component: 'http' });
  const app = Fastify({
    loggerInstance: logger,
    // Per-request lines are logged at debug level by the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Agents connect in bursts after an outage; keep sockets cheap.
    keepAliveTimeout: 65_000,
    // While closing, answer with our own 503 body (see the onRequest hook below).
    return503OnClosing: false,
    // Log streams and idle keep-alive sockets must not hold up a shutdown.
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    // Each route's schemas compile when it is first called, not at start-up (lazy-schemas.ts).
    ...(options.compileSchemasAtStart ? {} : { schemaController: lazySchemaController() }),
    // Cachix agents read the built-in cache at NAME.HOST (cachix/cache.ts); every other request keeps its URL.
    rewriteUrl: (req) => rewriteCacheHost(ctx, req),
  });
  installErrorHandlers(app);
  installBodyIdleTimeout(app, options.bodyIdleMs ?? DEFAULT_BODY_IDLE_MS);
  // Before any route: every route declares its access, enforced by one hook.
  installAccess(app, ctx);
  // And every state-changing route declares what it records in the audit log.
  installAudit(app, ctx);
  installCacheHostSignatures(app);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new DroverError('DROVER_ERR_UNAVAILABLE', 'the server is shutting down; retry against another replica or shortly');
  });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Drover API', version, description: 'Continuous deployment of Nix profiles' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: SESSION_COOKIE,
            description: `the web UI's session; state changes also need the ${CSRF_HEADER} header`,
          },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  await app.register(fastifyWebsocket, {
    options: { maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false },
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    ctx.metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    request.log.debug({ method: request.method, url: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  await mountRoutes(app, ctx, [healthRoutes, sessionRoutes, workspacesRoutes, agentSocketRoutes, cacheRoutes, cachixRoutes, serverAuditRoutes]);
  await mountWorkspaceRoutes(app, ctx, [
    workspaceRoutes,
    activateRoutes,
    activationRoutes,
    deploymentRoutes,
    agentRoutes,
    tokenRoutes,
    cacheAdminRoutes,
    secretRoutes,
    auditRoutes,
    webhookRoutes,
    usageRoutes,
  ]);
  await app.register(async (scope) => webRoutes(scope, ctx.webRoot));
  app.get('/api/v1/openapi.json', { config: { access: access.public }, schema: { hide: true } }, async () => app.swagger());
  // Known public narinfos are answered before Fastify (the binary cache's hottest request).
  installCacheFastPath(app, ctx, () => closing);
  return app;
}
