/**
 * The webhook tables: hooks per workspace, and deliveries — queued once per
 * (hook, event key) whichever replica queues it first, claimed by one
 * sender at a time with a lease (a compare-and-set update, the same on
 * SQLite and PostgreSQL), and finished with the attempt's outcome.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { DroverError, isUuid, type WebhookDeliveryStatus, type WebhookEvent } from '@drover/protocol';
import { chunks } from '../db/chunks.js';
import type { Database } from '../db/schema.js';
import { nowIso } from '../db/time.js';
import type { WebhookDeliveriesTable, WebhooksTable } from './tables.js';

export type WebhookRow = Selectable<WebhooksTable>;
export type DeliveryRow = Selectable<WebhookDeliveriesTable>;

export function eventsOf(row: Pick<WebhookRow, 'events'>): WebhookEvent[] {
  return JSON.parse(row.events) as WebhookEvent[];
}

export async function insertWebhook(db: Kysely<Database>, row: WebhookRow): Promise<void> {
  await db.insertInto('webhooks').values(row).execute();
}

export async function countWebhooks(db: Kysely<Database>, workspaceId: string): Promise<number> {
  const r = await db
    .selectFrom('webhooks')
    .select((eb) => eb.fn.countAll<string | number>().as('n'))
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}

export async function listWebhooks(db: Kysely<Database>, workspaceId: string): Promise<WebhookRow[]> {
  return db.selectFrom('webhooks').selectAll().where('workspace_id', '=', workspaceId).orderBy('created_at').orderBy('id').execute();
}

/** Every enabled hook of every workspace (what the detector matches events against). */
export async function enabledWebhooks(db: Kysely<Database>): Promise<WebhookRow[]> {
  return db.selectFrom('webhooks').selectAll().where('enabled', '=', 1).execute();
}

export async function getWebhook(db: Kysely<Database>, workspaceId: string, id: string): Promise<WebhookRow> {
  const row = isUuid(id)
    ? await db.selectFrom('webhooks').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst()
    : undefined;
  if (!row) throw new DroverError('DROVER_ERR_WEBHOOK_NOT_FOUND', `webhook ${JSON.stringify(id)} does not exist in this workspace`);
  return row;
}

export async function updateWebhook(
  db: Kysely<Database>,
  workspaceId: string,
  id: string,
  change: Partial<Pick<WebhookRow, 'url' | 'events' | 'format' | 'offline_minutes' | 'description' | 'enabled'>>,
): Promise<WebhookRow> {
  await getWebhook(db, workspaceId, id);
  if (Object.keys(change).length > 0) await db.updateTable('webhooks').set(change).where('id', '=', id).execute();
  return getWebhook(db, workspaceId, id);
}

export async function deleteWebhook(db: Kysely<Database>, workspaceId: string, id: string): Promise<void> {
  await getWebhook(db, workspaceId, id);
  await db.deleteFrom('webhook_deliveries').where('webhook_id', '=', id).execute();
  await db.deleteFrom('webhooks').where('id', '=', id).execute();
}

/** One event for one hook, before it has an id. */
export interface QueuedEvent {
  readonly webhookId: string;
  readonly workspaceId: string;
  readonly eventKey: string;
  readonly event: string;
  /** The body, given the delivery id it will carry. */
  readonly body: (deliveryId: string) => string;
}

/** Rows per multi-row insert (15 columns each: well under either database's bound on parameters). */
const INSERT_BATCH = 200;

/** Queues each event unless its (hook, key) is queued already; answers how many rows were new. */
export async function queueDeliveries(db: Kysely<Database>, events: readonly QueuedEvent[]): Promise<number> {
  let added = 0;
  const now = nowIso();
  for (let i = 0; i < events.length; i += INSERT_BATCH) {
    const rows = events.slice(i, i + INSERT_BATCH).map((e) => {
      const id = randomUUID();
      return {
        id,
        webhook_id: e.webhookId,
        workspace_id: e.workspaceId,
        event_key: e.eventKey,
        event: e.event,
        body: e.body(id),
        status: 'pending' as const,
        attempts: 0,
        next_attempt_at: now,
        lease_until: null,
        response_status: null,
        error: null,
        created_at: now,
        last_attempt_at: null,
        delivered_at: null,
      };
    });
    const r = await db
      .insertInto('webhook_deliveries')
      .values(rows)
      .onConflict((oc) => oc.columns(['webhook_id', 'event_key']).doNothing())
      .executeTakeFirst();
    added += Number(r.numInsertedOrUpdatedRows ?? 0);
  }
  return added;
}

/** Which of these event keys a hook has queued already (so the detector skips building their bodies). */
export async function knownEventKeys(db: Kysely<Database>, webhookId: string, keys: readonly string[]): Promise<Set<string>> {
  const known = new Set<string>();
  for (const part of chunks(keys)) {
    const rows = await db.selectFrom('webhook_deliveries').select('event_key').where('webhook_id', '=', webhookId).where('event_key', 'in', part).execute();
    for (const r of rows) known.add(r.event_key);
  }
  return known;
}

/** Pending deliveries of enabled hooks that are due and not leased, oldest due first — of hooks whose secret is sealed with `sealedPrefix` (this replica's key). */
export async function dueDeliveries(db: Kysely<Database>, limit: number, sealedPrefix: string): Promise<{ id: string }[]> {
  const now = nowIso();
  return db
    .selectFrom('webhook_deliveries')
    .innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
    .select('webhook_deliveries.id')
    .where('webhook_deliveries.status', '=', 'pending')
    .where('webhook_deliveries.next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('webhook_deliveries.lease_until', 'is', null), eb('webhook_deliveries.lease_until', '<=', now)]))
    .where('webhooks.enabled', '=', 1)
    .where(sql<boolean>`substr(${sql.ref('webhooks.secret_ciphertext')}, 1, ${sealedPrefix.length}) = ${sealedPrefix}`)
    .orderBy('webhook_deliveries.next_attempt_at')
    .limit(limit)
    .execute();
}

/**
 * Takes one due delivery for this sender until `leaseUntil`: exactly one of
 * the replicas asking at once gets it (the update's condition is re-checked
 * under the row lock on PostgreSQL, under the write lock on SQLite). The
 * attempt is counted here, so a sender that dies mid-request still uses one up.
 */
export async function claimDelivery(
  db: Kysely<Database>,
  id: string,
  leaseUntil: string,
): Promise<(DeliveryRow & { secret_ciphertext: string; url: string }) | null> {
  const now = nowIso();
  const r = await db
    .updateTable('webhook_deliveries')
    .set((eb) => ({ lease_until: leaseUntil, attempts: eb('attempts', '+', 1), last_attempt_at: now }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) return null;
  const row = await db
    .selectFrom('webhook_deliveries')
    .innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
    .selectAll('webhook_deliveries')
    .select(['webhooks.secret_ciphertext', 'webhooks.url'])
    .where('webhook_deliveries.id', '=', id)
    .executeTakeFirst();
  return row ?? null;
}

/** The outcome of one attempt, written only while the lease is still this sender's. */
export interface AttemptOutcome {
  readonly status: WebhookDeliveryStatus;
  readonly responseStatus: number | null;
  readonly error: string | null;
  readonly nextAttemptAt: string | null;
}

export async function finishAttempt(db: Kysely<Database>, id: string, lease: string, outcome: AttemptOutcome): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({
      status: outcome.status,
      response_status: outcome.responseStatus,
      error: outcome.error,
      next_attempt_at: outcome.nextAttemptAt,
      lease_until: null,
      delivered_at: outcome.status === 'delivered' ? nowIso() : null,
    })
    .where('id', '=', id)
    .where('lease_until', '=', lease)
    .execute();
}

export async function listDeliveries(
  db: Kysely<Database>,
  webhookId: string,
  filter: { readonly limit: number; readonly status?: WebhookDeliveryStatus | undefined },
): Promise<DeliveryRow[]> {
  let q = db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId);
  if (filter.status) q = q.where('status', '=', filter.status);
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
}

export async function deliveryByKey(db: Kysely<Database>, webhookId: string, eventKey: string): Promise<DeliveryRow | undefined> {
  return db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId).where('event_key', '=', eventKey).executeTakeFirst();
}

/** Queues a finished delivery again: pending, due now, with a fresh count of attempts. */
export async function redeliver(db: Kysely<Database>, webhookId: string, id: string): Promise<DeliveryRow> {
  const r = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', attempts: 0, next_attempt_at: nowIso(), lease_until: null, error: null, response_status: null, delivered_at: null })
    .where('id', '=', id)
    .where('webhook_id', '=', webhookId)
    .where('status', '<>', 'pending')
    .executeTakeFirst();
  const row = await db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).where('webhook_id', '=', webhookId).executeTakeFirst();
  if (!row) throw new DroverError('DROVER_ERR_WEBHOOK_NOT_FOUND', `delivery ${id} does not exist for this webhook`);
  if (Number(r.numUpdatedRows) !== 1 && row.status !== 'pending') throw new DroverError('DROVER_ERR_INTERNAL', `delivery ${id} could not be queued again`);
  return row;
}

/** Deletes finished deliveries created before `before` (the log's retention). */
export async function pruneDeliveries(db: Kysely<Database>, before: string): Promise<void> {
  await db.deleteFrom('webhook_deliveries').where('created_at', '<', before).where('status', '<>', 'pending').execute();
}

/** Fails what is still pending though created before `before` (its hook disabled all along, or no replica holding its key): nothing waits for ever. */
export async function expireDeliveries(db: Kysely<Database>, before: string, error: string): Promise<number> {
  const r = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'failed', error, next_attempt_at: null, lease_until: null })
    .where('status', '=', 'pending')
    .where('created_at', '<', before)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', nowIso())]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** How many hooks have a secret sealed with another key than `sealedPrefix` names. */
export async function foreignKeyHooks(db: Kysely<Database>, sealedPrefix: string): Promise<number> {
  const r = await db
    .selectFrom('webhooks')
    .select((eb) => eb.fn.countAll<string | number>().as('n'))
    .where(sql<boolean>`substr(${sql.ref('secret_ciphertext')}, 1, ${sealedPrefix.length}) <> ${sealedPrefix}`)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}
