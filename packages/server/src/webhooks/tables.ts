/** The webhook tables (migration 0016_webhooks): the hooks of each workspace and the delivery of each event to each hook. */
import type { WebhookDeliveryStatus, WebhookFormat } from '@drover/protocol';

export interface WebhooksTable {
  id: string;
  workspace_id: string;
  url: string;
  /** JSON array of WebhookEvent. */
  events: string;
  format: WebhookFormat;
  offline_minutes: number;
  description: string;
  /** 1: deliveries are made; 0: paused (nothing is queued for it). */
  enabled: number;
  /** The signing secret, AES-256-GCM under the server's webhook key (secret-box.ts); never stored in clear. */
  secret_ciphertext: string;
  created_at: string;
  /** Who created it: `user:<name>` or `token:<id>`. */
  created_by: string | null;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  workspace_id: string;
  /** What happened, one value per event (e.g. `deployment.finished:<id>`): unique per hook, so each replica that sees it queues it and only one row results. */
  event_key: string;
  event: string;
  /** The exact body sent (and signed). */
  body: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  /** When the next attempt is due (pending only). */
  next_attempt_at: string | null;
  /** A replica sending it holds it until then; an expired lease (the replica died) lets another retry. */
  lease_until: string | null;
  response_status: number | null;
  error: string | null;
  created_at: string;
  last_attempt_at: string | null;
  delivered_at: string | null;
}
