/**
 * The webhook machinery of one server process: the secret box (the server's
 * webhook key), the detector that queues deliveries and the sender that
 * makes them. Built by startServer, stopped before the database closes.
 */
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Presence } from '../agents/repository.js';
import type { Bus } from '../bus/bus.js';
import type { Database } from '../db/schema.js';
import { WebhookDetector } from './detector.js';
import { loadWebhookKey, SecretBox } from './secret-box.js';
import { WebhookSender } from './sender.js';

export interface WebhookOptions {
  /** The key file the secrets are encrypted with (default DATA_DIR/webhook.key; replicas must share it). */
  readonly keyFile: string;
  readonly pollMs: number;
  readonly sweepMs: number;
  readonly retryBaseMs: number;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  readonly concurrency: number;
  /** How long finished deliveries stay in the log. */
  readonly retentionMs: number;
}

export function webhookDefaults(dataDir: string): WebhookOptions {
  return {
    keyFile: join(dataDir, 'webhook.key'),
    pollMs: 2000,
    sweepMs: 15_000,
    retryBaseMs: 10_000,
    maxAttempts: 6,
    timeoutMs: 10_000,
    concurrency: 4,
    retentionMs: 30 * 24 * 60 * 60_000,
  };
}

export class Webhooks {
  readonly box: SecretBox;
  private readonly sender: WebhookSender;
  private readonly detector: WebhookDetector;

  constructor(deps: { db: Kysely<Database>; bus: Bus; log: Logger; presence: Presence; publicUrl: () => string; registry: Registry }, options: WebhookOptions) {
    this.box = new SecretBox(loadWebhookKey(options.keyFile));
    this.sender = new WebhookSender({ ...deps, ...options, box: this.box });
    this.detector = new WebhookDetector({ ...deps, ...options, sealedPrefix: this.box.sealedPrefix, onQueued: () => this.sender.kick() });
  }

  /** Deliveries were queued (a test ping, a redelivery): send now rather than at the next poll. */
  kick(): void {
    this.sender.kick();
  }

  async stop(): Promise<void> {
    await this.detector.stop();
    await this.sender.stop();
  }
}
