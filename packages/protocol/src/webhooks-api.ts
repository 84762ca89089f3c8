/**
 * The HTTP API of webhooks (…/webhooks) and usage (…/usage): request and
 * answer schemas; the vocabulary is in webhooks.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { literalUnion, Nullable, PlainText, SafeInteger, Timestamp, Uuid } from './schemas.js';
import { MAX_OFFLINE_MINUTES, WEBHOOK_DELIVERY_STATUSES, WEBHOOK_EVENTS, WEBHOOK_FORMATS } from './webhooks.js';

const WebhookEventSchema = literalUnion(WEBHOOK_EVENTS);
const WebhookFormatSchema = literalUnion(WEBHOOK_FORMATS);
/** http(s) only; the server parses it again (service.ts). */
const WebhookUrlSchema = Type.String({ pattern: '^https?://[^\\s\\u0000-\\u001F\\u007F]+$', maxLength: 2048 });
const OfflineMinutesSchema = Type.Integer({ minimum: 1, maximum: MAX_OFFLINE_MINUTES });

export const WebhookSchema = Type.Object({
  id: Uuid,
  url: Type.String(),
  events: Type.Array(WebhookEventSchema),
  format: WebhookFormatSchema,
  /** agent.offline fires after an agent was offline this long. */
  offlineMinutes: Type.Integer(),
  description: Type.String(),
  enabled: Type.Boolean(),
  createdAt: Timestamp,
  createdBy: Nullable(Type.String()),
});
export type Webhook = Static<typeof WebhookSchema>;
export const WebhookListSchema = Type.Object({ webhooks: Type.Array(WebhookSchema) });

export const WebhookCreateRequestSchema = Type.Object(
  {
    url: WebhookUrlSchema,
    events: Type.Array(WebhookEventSchema, { minItems: 1, uniqueItems: true }),
    format: Type.Optional(WebhookFormatSchema),
    offlineMinutes: Type.Optional(OfflineMinutesSchema),
    description: Type.Optional(PlainText({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type WebhookCreateRequest = Static<typeof WebhookCreateRequestSchema>;

export const WebhookUpdateRequestSchema = Type.Object(
  {
    url: Type.Optional(WebhookUrlSchema),
    events: Type.Optional(Type.Array(WebhookEventSchema, { minItems: 1, uniqueItems: true })),
    format: Type.Optional(WebhookFormatSchema),
    offlineMinutes: Type.Optional(OfflineMinutesSchema),
    description: Type.Optional(PlainText({ maxLength: 256 })),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type WebhookUpdateRequest = Static<typeof WebhookUpdateRequestSchema>;

/** The answer of POST …/webhooks: the secret, in this answer only. */
export const WebhookCreateResponseSchema = Type.Object({ webhook: WebhookSchema, secret: Type.String() });
export type WebhookCreated = Static<typeof WebhookCreateResponseSchema>;

export const WebhookDeliverySchema = Type.Object({
  id: Uuid,
  webhookId: Uuid,
  event: Type.String(),
  status: literalUnion(WEBHOOK_DELIVERY_STATUSES),
  attempts: Type.Integer(),
  /** The HTTP status of the last answer; null when none came (refused, timed out). */
  responseStatus: Nullable(Type.Integer()),
  /** Why the last attempt failed; null after a success. */
  error: Nullable(Type.String()),
  createdAt: Timestamp,
  lastAttemptAt: Nullable(Timestamp),
  nextAttemptAt: Nullable(Timestamp),
  deliveredAt: Nullable(Timestamp),
  /** The body as sent (signed as these exact bytes). */
  body: Type.String(),
});
export type WebhookDelivery = Static<typeof WebhookDeliverySchema>;
export const WebhookDeliveryListSchema = Type.Object({ deliveries: Type.Array(WebhookDeliverySchema) });
export type WebhookDeliveryList = Static<typeof WebhookDeliveryListSchema>;
export const WebhookDeliveryQuerySchema = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  status: Type.Optional(literalUnion(WEBHOOK_DELIVERY_STATUSES)),
});
export const WebhookDeliveryParamsSchema = Type.Object({ id: PlainText({ maxLength: 64 }), delivery: PlainText({ maxLength: 64 }) });

/** One month (UTC) of a workspace's agents: the most connected at once and the connected time. */
export const UsageMonthSchema = Type.Object({
  /** `YYYY-MM`, UTC. */
  month: Type.String({ pattern: '^\\d{4}-\\d{2}$' }),
  peakAgents: SafeInteger(),
  peakAt: Nullable(Timestamp),
  agentHours: Type.Number({ minimum: 0 }),
});
export type UsageMonth = Static<typeof UsageMonthSchema>;
export const UsageSchema = Type.Object({
  workspace: Type.String(),
  /** Newest first; the current month first of all (zeros when nothing was recorded yet). */
  months: Type.Array(UsageMonthSchema),
});
export type Usage = Static<typeof UsageSchema>;
export const UsageQuerySchema = Type.Object({ months: Type.Optional(Type.Integer({ minimum: 1, maximum: 120, default: 12 })) });
