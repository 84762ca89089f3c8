/** Webhooks of a workspace and their delivery log (admins; mounted per workspace, see mounts.ts). The rules are in webhooks/service.ts. */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import { Type } from '@sinclair/typebox';
import {
  ErrorBodySchema,
  IdParamsSchema,
  WebhookCreateRequestSchema,
  WebhookCreateResponseSchema,
  WebhookDeliveryListSchema,
  WebhookDeliveryParamsSchema,
  WebhookDeliveryQuerySchema,
  WebhookDeliverySchema,
  WebhookListSchema,
  WebhookSchema,
  WebhookUpdateRequestSchema,
} from '@drover/protocol';
import { changeWebhook, createWebhook, deliveriesOf, pingWebhook, removeWebhook, retryDelivery, webhooksOf } from '../../webhooks/service.js';
import { access, workspaceAccess } from '../access.js';
import { field, fromParam, fromResponse, valueAt } from '../audit.js';
import type { WorkspaceRoutes } from '../mounts.js';

export const webhookRoutes: WorkspaceRoutes = async (app, ctx) => {
  const admin = { access: access.workspace('admin') };

  app.get(
    '/webhooks',
    { config: admin, schema: { summary: 'Webhooks of the workspace (never their secrets)', response: { 200: WebhookListSchema } } },
    async (request) => ({
      webhooks: await webhooksOf(ctx, workspaceAccess(request)),
    }),
  );

  app.post(
    '/webhooks',
    {
      // Never the URL in the audit log: a Slack hook's URL is itself a secret.
      config: {
        ...admin,
        audit: {
          action: 'webhook.create',
          target: fromResponse('webhook', 'id'),
          details: (_request, response) => ({
            events: valueAt(response.body(), 'webhook', 'events'),
            format: field(response.body(), 'webhook', 'format'),
            description: field(response.body(), 'webhook', 'description'),
          }),
        },
      },
      schema: {
        summary: 'Create a webhook; its signing secret is in this response only',
        body: WebhookCreateRequestSchema,
        response: { 201: WebhookCreateResponseSchema, 409: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const a = workspaceAccess(request);
      const created = await createWebhook(ctx, a, request.body);
      request.log.info({ webhook: created.webhook.id, events: created.webhook.events, by: `${a.actor.kind}:${a.actor.id}` }, 'webhook created');
      return reply.status(201).send(created);
    },
  );

  app.patch(
    '/webhooks/:id',
    {
      config: {
        ...admin,
        audit: {
          action: 'webhook.update',
          target: fromParam('id'),
          details: (request) => ({
            events: valueAt(request.body, 'events'),
            format: field(request.body, 'format'),
            enabled: valueAt(request.body, 'enabled'),
            urlChanged: valueAt(request.body, 'url') !== undefined,
          }),
        },
      },
      schema: {
        summary: 'Change a webhook (URL, events, format, minutes, description, enabled)',
        params: IdParamsSchema,
        body: WebhookUpdateRequestSchema,
        response: { 200: WebhookSchema, 404: ErrorBodySchema },
      },
    },
    async (request) => changeWebhook(ctx, workspaceAccess(request), request.params.id, request.body),
  );

  app.delete(
    '/webhooks/:id',
    {
      config: { ...admin, audit: { action: 'webhook.delete', target: fromParam('id') } },
      schema: { summary: 'Delete a webhook and its delivery log', params: IdParamsSchema, response: { 204: Type.Null(), 404: ErrorBodySchema } },
    },
    async (request, reply) => {
      const a = workspaceAccess(request);
      await removeWebhook(ctx, a, request.params.id);
      request.log.info({ webhook: request.params.id, by: `${a.actor.kind}:${a.actor.id}` }, 'webhook deleted');
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/webhooks/:id/test',
    {
      config: { ...admin, audit: { action: 'webhook.test', target: fromParam('id') } },
      schema: { summary: 'Queue a ping delivery to the webhook now', params: IdParamsSchema, response: { 202: WebhookDeliverySchema, 404: ErrorBodySchema } },
    },
    async (request, reply) => reply.status(202).send(await pingWebhook(ctx, workspaceAccess(request), request.params.id)),
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      config: admin,
      schema: {
        summary: "A webhook's delivery log, newest first",
        params: IdParamsSchema,
        querystring: WebhookDeliveryQuerySchema,
        response: { 200: WebhookDeliveryListSchema, 404: ErrorBodySchema },
      },
    },
    async (request) => ({
      deliveries: await deliveriesOf(ctx, workspaceAccess(request), request.params.id, { limit: request.query.limit ?? 50, status: request.query.status }),
    }),
  );

  app.post(
    '/webhooks/:id/deliveries/:delivery/retry',
    {
      config: {
        ...admin,
        audit: { action: 'webhook.redeliver', target: fromParam('id'), details: (request) => ({ delivery: field(request.params, 'delivery') }) },
      },
      schema: {
        summary: 'Send a delivered or failed delivery again (same body and delivery id)',
        params: WebhookDeliveryParamsSchema,
        response: { 202: WebhookDeliverySchema, 404: ErrorBodySchema },
      },
    },
    async (request, reply) => reply.status(202).send(await retryDelivery(ctx, workspaceAccess(request), request.params.id, request.params.delivery)),
  );
};
