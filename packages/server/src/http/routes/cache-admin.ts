/**
 * Administration of a workspace's built-in binary caches: create, list, one
 * cache, pins and garbage collection. Mounted per workspace like the other
 * workspace routes (app.ts), so admin tokens and signed-in users (admin role
 * to change, any role to read) use the same endpoints.
 */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import {
  CacheCreateRequestSchema,
  CacheListSchema,
  CacheNameSchema,
  CachePinRequestSchema,
  CacheSchema,
  GcReportSchema,
  GcRequestSchema,
} from '@drover/protocol';
import { toCacheApi } from '../../cache/caches-repository.js';
import type { ServerContext } from '../../context.js';
import { authorize } from '../auth.js';

const NameParams = Type.Object({ name: CacheNameSchema });

export async function cacheAdminRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const svc = ctx.cache;
  app.post<{ Body: Static<typeof CacheCreateRequestSchema> }>(
    '/caches',
    { schema: { summary: 'Create a binary cache with its own signing key', body: CacheCreateRequestSchema, response: { 201: CacheSchema } } },
    async (request, reply) => {
      const a = await authorize(ctx, request, 'admin');
      const created = await svc.createCache(a.workspaceId, request.body.name, { public: request.body.public, trustedKeys: request.body.trustedKeys });
      request.log.info({ cache: created.name, public: created.public === 1, by: `${a.actor.kind}:${a.actor.id}` }, 'cache created');
      return reply.status(201).send(toCacheApi(created, ctx.publicUrl));
    },
  );

  app.get('/caches', { schema: { summary: "The workspace's binary caches, oldest first (agents use the oldest)", response: { 200: CacheListSchema } } }, async (request) => {
    const a = await authorize(ctx, request, 'read');
    return { caches: (await svc.listCaches(a.workspaceId)).map((c) => toCacheApi(c, ctx.publicUrl)) };
  });

  app.get<{ Params: Static<typeof NameParams> }>(
    '/caches/:name',
    { schema: { summary: 'One binary cache: substituter URL and public key', params: NameParams, response: { 200: CacheSchema } } },
    async (request) => {
      const a = await authorize(ctx, request, 'read');
      return toCacheApi(await svc.describeCache(request.params.name, a.workspaceId), ctx.publicUrl);
    },
  );

  app.post<{ Params: Static<typeof NameParams>; Body: Static<typeof CachePinRequestSchema> }>(
    '/caches/:name/pins',
    { schema: { summary: 'Pin a store path (and its closure) against GC', params: NameParams, body: CachePinRequestSchema, response: { 204: Type.Null() } } },
    async (request, reply) => {
      const a = await authorize(ctx, request, 'admin');
      await svc.pin(request.params.name, a.workspaceId, request.body.storePath, request.body.keepDays);
      return reply.status(204).send();
    },
  );

  app.post<{ Params: Static<typeof NameParams>; Body: Static<typeof GcRequestSchema> }>(
    '/caches/:name/gc',
    { schema: { summary: 'Collect garbage (or, with dryRun, say what would go)', params: NameParams, body: GcRequestSchema, response: { 200: GcReportSchema } } },
    async (request) => {
      const a = await authorize(ctx, request, 'admin');
      const report = await svc.collectGarbage(request.params.name, a.workspaceId, { dryRun: request.body.dryRun ?? false, graceSeconds: request.body.graceSeconds });
      request.log.info({ cache: report.cache, dryRun: report.dryRun, deleted: report.deleted.length, bytesFreed: report.bytesFreed }, 'cache GC');
      return report;
    },
  );
}
