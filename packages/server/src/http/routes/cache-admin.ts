/**
 * Administration of a workspace's built-in binary caches: create, list, one
 * cache, pins and garbage collection. Mounted per workspace like the other
 * workspace routes (app.ts), so admin tokens and signed-in users (admin role
 * to change, any role to read) use the same endpoints.
 */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import { Type } from '@sinclair/typebox';
import {
  CacheCreateRequestSchema,
  CacheListSchema,
  CacheNameParamsSchema,
  CachePinRequestSchema,
  CacheSchema,
  GcReportSchema,
  GcRequestSchema,
} from '@drover/protocol';
import { toCacheApi } from '../../cache/caches-repository.js';
import { access, workspaceAccess } from '../access.js';
import { field, fromBody, fromParam, valueAt } from '../audit.js';
import type { WorkspaceRoutes } from '../mounts.js';

const NameParams = CacheNameParamsSchema;

export const cacheAdminRoutes: WorkspaceRoutes = async (app, ctx) => {
  const read = { access: access.workspace('read') };
  const admin = { access: access.workspace('admin') };
  const svc = ctx.cache;
  app.post(
    '/caches',
    {
      config: {
        ...admin,
        audit: { action: 'cache.create', target: fromBody('name'), details: (request) => ({ public: valueAt(request.body, 'public') === true }) },
      },
      schema: { summary: 'Create a binary cache with its own signing key', body: CacheCreateRequestSchema, response: { 201: CacheSchema } },
    },
    async (request, reply) => {
      const a = workspaceAccess(request);
      const created = await svc.createCache(a.workspaceId, request.body.name, { public: request.body.public, trustedKeys: request.body.trustedKeys });
      request.log.info({ cache: created.name, public: created.public === 1, by: `${a.actor.kind}:${a.actor.id}` }, 'cache created');
      return reply.status(201).send(toCacheApi(created, ctx.publicUrl));
    },
  );

  app.get(
    '/caches',
    { config: read, schema: { summary: "The workspace's binary caches, oldest first (agents use the oldest)", response: { 200: CacheListSchema } } },
    async (request) => {
      const a = workspaceAccess(request);
      return { caches: (await svc.listCaches(a.workspaceId)).map((c) => toCacheApi(c, ctx.publicUrl)) };
    },
  );

  app.get(
    '/caches/:name',
    { config: read, schema: { summary: 'One binary cache: substituter URL and public key', params: NameParams, response: { 200: CacheSchema } } },
    async (request) => {
      const a = workspaceAccess(request);
      return toCacheApi(await svc.describeCache(request.params.name, a.workspaceId), ctx.publicUrl);
    },
  );

  app.post(
    '/caches/:name/pins',
    {
      config: {
        ...admin,
        audit: {
          action: 'cache.pin',
          target: fromParam('name'),
          details: (request) => ({ storePath: field(request.body, 'storePath'), keepDays: valueAt(request.body, 'keepDays') }),
        },
      },
      schema: { summary: 'Pin a store path (and its closure) against GC', params: NameParams, body: CachePinRequestSchema, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      const a = workspaceAccess(request);
      await svc.pin(request.params.name, a.workspaceId, request.body.storePath, request.body.keepDays);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/caches/:name/gc',
    {
      config: {
        ...admin,
        // A dry run deletes nothing.
        audit: {
          action: 'cache.gc',
          target: fromParam('name'),
          skip: (request) => valueAt(request.body, 'dryRun') === true,
          details: (_request, response) => {
            const deleted = valueAt(response.body(), 'deleted');
            return { deleted: Array.isArray(deleted) ? deleted.length : null, bytesFreed: valueAt(response.body(), 'bytesFreed') };
          },
        },
      },
      schema: { summary: 'Collect garbage (or, with dryRun, say what would go)', params: NameParams, body: GcRequestSchema, response: { 200: GcReportSchema } },
    },
    async (request) => {
      const a = workspaceAccess(request);
      const report = await svc.collectGarbage(request.params.name, a.workspaceId, {
        dryRun: request.body.dryRun ?? false,
        graceSeconds: request.body.graceSeconds,
      });
      request.log.info({ cache: report.cache, dryRun: report.dryRun, deleted: report.deleted.length, bytesFreed: report.bytesFreed }, 'cache GC');
      return report;
    },
  );
};
