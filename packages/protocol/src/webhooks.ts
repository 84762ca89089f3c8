/**
 * Webhooks: the events a workspace's hooks may subscribe to, the payload
 * formats, the headers of a delivery and the limits (TypeBox-free, for the
 * web UI and the CLI; the API schemas are in webhooks-api.ts).
 *
 * A delivery is an HTTP POST of a JSON body. `X-Drover-Signature` carries
 * `sha256=` and the hex HMAC-SHA256 of the exact body bytes, keyed with the
 * hook's secret as shown at creation (the whole `whsec_…` text, UTF-8).
 */

/** What a hook can subscribe to. `agent.offline` fires once per offline spell longer than the hook's `offlineMinutes`. */
export const WEBHOOK_EVENTS = ['deployment.started', 'deployment.finished', 'activation.finished', 'rollout.finished', 'agent.offline'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** What a delivery can carry: a subscribed event, or the `ping` of `drover webhooks test`. */
export type WebhookDeliveryEvent = WebhookEvent | 'ping';

/** `json`: Drover's own body (docs/webhooks.md); `slack`: `{"text": …}`, what Slack-compatible incoming webhooks take. */
export const WEBHOOK_FORMATS = ['json', 'slack'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** pending: waiting for its (next) attempt; delivered: a 2xx answer; failed: every attempt failed. */
export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

export const WEBHOOK_SIGNATURE_HEADER = 'x-drover-signature';
export const WEBHOOK_EVENT_HEADER = 'x-drover-event';
export const WEBHOOK_DELIVERY_HEADER = 'x-drover-delivery';

/** The secret's prefix: a leaked one is easy to recognise. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** Hooks per workspace. */
export const MAX_WEBHOOKS_PER_WORKSPACE = 20;
export const DEFAULT_OFFLINE_MINUTES = 10;
export const MAX_OFFLINE_MINUTES = 7 * 24 * 60;

export function isWebhookEvent(value: unknown): value is WebhookEvent {
  return typeof value === 'string' && (WEBHOOK_EVENTS as readonly string[]).includes(value);
}
