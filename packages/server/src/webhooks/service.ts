/**
 * The rules of webhooks: who may manage them (routes declare admin), the URL
 * check, the per-workspace limit, the secret (made here, shown once, sealed
 * before it is stored), test pings and redeliveries, and the API shapes.
 */
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_OFFLINE_MINUTES,
  DroverError,
  MAX_WEBHOOKS_PER_WORKSPACE,
  type Webhook,
  type WebhookCreated,
  type WebhookCreateRequest,
  type WebhookDelivery,
  type WebhookDeliveryStatus,
  type WebhookUpdateRequest,
} from '@drover/protocol';
import type { Access } from '../auth/access.js';
import type { ServerContext } from '../context.js';
import { nowIso } from '../db/time.js';
import { deliveryBody } from './events.js';
import {
  countWebhooks,
  deliveryByKey,
  deleteWebhook,
  eventsOf,
  getWebhook,
  insertWebhook,
  listDeliveries,
  listWebhooks,
  queueDeliveries,
  redeliver,
  updateWebhook,
  type DeliveryRow,
  type WebhookRow,
} from './repository.js';
import { SecretBox } from './secret-box.js';

function toWebhookApi(row: WebhookRow): Webhook {
  return {
    id: row.id,
    url: row.url,
    events: eventsOf(row),
    format: row.format,
    offlineMinutes: row.offline_minutes,
    description: row.description,
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    createdBy: row.created_by,
  };
}

function toDeliveryApi(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    event: row.event,
    status: row.status,
    attempts: row.attempts,
    responseStatus: row.response_status,
    error: row.error,
    createdAt: row.created_at,
    lastAttemptAt: row.last_attempt_at,
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
    deliveredAt: row.delivered_at,
    body: row.body,
  };
}

/** The URL as given, when it is absolute http(s) with a host and no credentials. */
function checkedUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DroverError('DROVER_ERR_INVALID_WEBHOOK_URL', `${JSON.stringify(url.slice(0, 100))} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new DroverError('DROVER_ERR_INVALID_WEBHOOK_URL', `a webhook URL must be http:// or https:// (got ${parsed.protocol})`);
  if (parsed.hostname === '') throw new DroverError('DROVER_ERR_INVALID_WEBHOOK_URL', 'a webhook URL needs a host');
  if (parsed.username !== '' || parsed.password !== '') throw new DroverError('DROVER_ERR_INVALID_WEBHOOK_URL', 'a webhook URL may not carry user:password@');
  return url;
}

export async function createWebhook(ctx: ServerContext, a: Access, req: WebhookCreateRequest): Promise<WebhookCreated> {
  const url = checkedUrl(req.url);
  if ((await countWebhooks(ctx.db, a.workspaceId)) >= MAX_WEBHOOKS_PER_WORKSPACE) {
    throw new DroverError('DROVER_ERR_WEBHOOK_LIMIT', `workspace ${a.workspaceName} already has ${MAX_WEBHOOKS_PER_WORKSPACE} webhooks`);
  }
  const id = randomUUID();
  const secret = SecretBox.newSecret();
  const row: WebhookRow = {
    id,
    workspace_id: a.workspaceId,
    url,
    events: JSON.stringify(req.events),
    format: req.format ?? 'json',
    offline_minutes: req.offlineMinutes ?? DEFAULT_OFFLINE_MINUTES,
    description: req.description ?? '',
    enabled: 1,
    secret_ciphertext: ctx.webhooks.box.seal(secret, id),
    created_at: nowIso(),
    created_by: `${a.actor.kind}:${a.actor.id}`,
  };
  await insertWebhook(ctx.db, row);
  return { webhook: toWebhookApi(row), secret };
}

export async function webhooksOf(ctx: ServerContext, a: Access): Promise<Webhook[]> {
  return (await listWebhooks(ctx.db, a.workspaceId)).map(toWebhookApi);
}

export async function changeWebhook(ctx: ServerContext, a: Access, id: string, req: WebhookUpdateRequest): Promise<Webhook> {
  const row = await updateWebhook(ctx.db, a.workspaceId, id, {
    ...(req.url === undefined ? {} : { url: checkedUrl(req.url) }),
    ...(req.events === undefined ? {} : { events: JSON.stringify(req.events) }),
    ...(req.format === undefined ? {} : { format: req.format }),
    ...(req.offlineMinutes === undefined ? {} : { offline_minutes: req.offlineMinutes }),
    ...(req.description === undefined ? {} : { description: req.description }),
    ...(req.enabled === undefined ? {} : { enabled: req.enabled ? 1 : 0 }),
  });
  return toWebhookApi(row);
}

export async function removeWebhook(ctx: ServerContext, a: Access, id: string): Promise<void> {
  await deleteWebhook(ctx.db, a.workspaceId, id);
}

/** Queues a `ping` to the hook (even a disabled one is checked: it is sent once it is enabled) and sends it at once. */
export async function pingWebhook(ctx: ServerContext, a: Access, id: string): Promise<WebhookDelivery> {
  const hook = await getWebhook(ctx.db, a.workspaceId, id);
  const key = `ping:${randomUUID()}`;
  const event = { workspaceId: a.workspaceId, workspace: a.workspaceName, key, occurredAt: nowIso(), subject: { event: 'ping' as const, webhookId: hook.id } };
  await queueDeliveries(ctx.db, [
    { webhookId: hook.id, workspaceId: a.workspaceId, eventKey: key, event: 'ping', body: (deliveryId) => deliveryBody(hook.format, deliveryId, event) },
  ]);
  ctx.webhooks.kick();
  const row = await deliveryByKey(ctx.db, hook.id, key);
  if (!row) throw new DroverError('DROVER_ERR_INTERNAL', 'the test delivery was not queued');
  return toDeliveryApi(row);
}

export async function deliveriesOf(
  ctx: ServerContext,
  a: Access,
  id: string,
  filter: { readonly limit: number; readonly status?: WebhookDeliveryStatus | undefined },
): Promise<WebhookDelivery[]> {
  const hook = await getWebhook(ctx.db, a.workspaceId, id);
  return (await listDeliveries(ctx.db, hook.id, filter)).map(toDeliveryApi);
}

/** Sends a delivered or failed delivery again, with its original body (and so its original delivery id). */
export async function retryDelivery(ctx: ServerContext, a: Access, id: string, deliveryId: string): Promise<WebhookDelivery> {
  const hook = await getWebhook(ctx.db, a.workspaceId, id);
  const row = await redeliver(ctx.db, hook.id, deliveryId);
  ctx.webhooks.kick();
  return toDeliveryApi(row);
}
