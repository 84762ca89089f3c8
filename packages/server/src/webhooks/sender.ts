/**
 * Sends queued deliveries. Every replica runs one: it polls for due
 * deliveries, claims each with a lease (repository.ts `claimDelivery`: one
 * replica wins), POSTs the stored body signed with the hook's secret, and
 * records the outcome: delivered on a 2xx answer; otherwise the next attempt
 * after a growing delay (base × 3^(n-1), ±10 %), until `maxAttempts` were
 * made and the delivery is failed. A replica that dies mid-request leaves a
 * lease that expires, and another retries (at least once, never lost;
 * receivers deduplicate by the X-Drover-Delivery id). Redirects are not
 * followed. URLs and secrets are never logged.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { WEBHOOK_DELIVERY_HEADER, WEBHOOK_EVENT_HEADER, WEBHOOK_SIGNATURE_HEADER } from '@drover/protocol';
import type { Database } from '../db/schema.js';
import { version } from '../version.js';
import { claimDelivery, dueDeliveries, finishAttempt, type AttemptOutcome, type DeliveryRow } from './repository.js';
import { signature, type SecretBox } from './secret-box.js';

export interface SenderOptions {
  readonly db: Kysely<Database>;
  readonly log: Logger;
  readonly box: SecretBox;
  /** How often due deliveries are looked for (default 2 s; queueing wakes it at once). */
  readonly pollMs: number;
  /** The delay before the second attempt (default 10 s). */
  readonly retryBaseMs: number;
  /** Attempts in all before a delivery fails (default 6: about 20 minutes). */
  readonly maxAttempts: number;
  /** How long one request may take (default 10 s). */
  readonly timeoutMs: number;
  /** Requests in flight at once on this replica (default 4). */
  readonly concurrency: number;
  /** Where `drover_webhook_attempts_total` is registered. */
  readonly registry: Registry;
}

/** A short reason for the log of an attempt that got no answer. */
function failureReason(err: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return `could not connect: ${cause.code}`;
  return `the request failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300);
}

export class WebhookSender {
  private readonly timer: NodeJS.Timeout;
  private inFlight = 0;
  private polling = false;
  private again = false;
  private stopped = false;
  private readonly stop$ = new AbortController();
  private readonly requests = new Set<Promise<void>>();
  private readonly log: Logger;
  private readonly attempts: Counter<'result'>;

  constructor(private readonly opts: SenderOptions) {
    this.log = opts.log.child({ component: 'webhooks' });
    this.attempts = new Counter({
      name: 'drover_webhook_attempts_total',
      help: 'Webhook delivery attempts made by this process, by result: delivered, retry (another attempt follows) or failed (the last)',
      labelNames: ['result'] as const,
      registers: [opts.registry],
    });
    this.timer = setInterval(() => this.kick(), opts.pollMs).unref();
  }

  /** Looks for due deliveries now. */
  kick(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = true;
    void this.poll().finally(() => {
      this.polling = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async poll(): Promise<void> {
    try {
      const free = this.opts.concurrency - this.inFlight;
      if (free <= 0) return;
      const leaseMs = this.opts.timeoutMs + 30_000;
      for (const { id } of await dueDeliveries(this.opts.db, free, this.opts.box.sealedPrefix)) {
        if (this.stopped) return;
        const lease = new Date(Date.now() + leaseMs).toISOString();
        const row = await claimDelivery(this.opts.db, id, lease);
        if (!row) continue;
        this.inFlight++;
        const request = this.attempt(row, lease).finally(() => {
          this.inFlight--;
          this.requests.delete(request);
          // A slot is free: more may be due.
          this.kick();
        });
        this.requests.add(request);
      }
    } catch (err) {
      this.log.warn({ err }, 'could not read due webhook deliveries; retrying at the next poll');
    }
  }

  private async attempt(row: DeliveryRow & { secret_ciphertext: string; url: string }, lease: string): Promise<void> {
    let outcome: AttemptOutcome;
    try {
      const secret = this.opts.box.open(row.secret_ciphertext, row.webhook_id);
      outcome = await this.post(row, secret);
    } catch (err) {
      outcome = this.retryOrFail(row, null, err instanceof Error ? err.message : String(err));
    }
    this.attempts.inc({ result: outcome.status === 'pending' ? 'retry' : outcome.status });
    if (outcome.status !== 'delivered') {
      this.log.warn(
        { webhook: row.webhook_id, delivery: row.id, attempt: row.attempts, status: outcome.responseStatus, error: outcome.error },
        'webhook delivery failed',
      );
    }
    try {
      await this.opts.db.transaction().execute((tx) => finishAttempt(tx, row.id, lease, outcome));
    } catch (err) {
      // The lease runs out and another attempt is made: at least once.
      this.log.warn({ err, delivery: row.id }, 'could not record a webhook attempt');
    }
  }

  private async post(row: DeliveryRow & { url: string }, secret: string): Promise<AttemptOutcome> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.opts.timeoutMs);
    const onStop = () => controller.abort();
    this.stop$.signal.addEventListener('abort', onStop);
    try {
      const res = await fetch(row.url, {
        method: 'POST',
        redirect: 'manual',
        signal: controller.signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': `drover-webhooks/${version}`,
          [WEBHOOK_EVENT_HEADER]: row.event,
          [WEBHOOK_DELIVERY_HEADER]: row.id,
          [WEBHOOK_SIGNATURE_HEADER]: signature(secret, row.body),
        },
        body: row.body,
      });
      // The answer's body is not kept (nor read beyond what fetch buffered).
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) return { status: 'delivered', responseStatus: res.status, error: null, nextAttemptAt: null };
      return this.retryOrFail(row, res.status, `the receiver answered HTTP ${res.status}`);
    } catch (err) {
      return this.retryOrFail(row, null, failureReason(err, timedOut, this.opts.timeoutMs));
    } finally {
      clearTimeout(timer);
      this.stop$.signal.removeEventListener('abort', onStop);
    }
  }

  /** Another attempt later, or failed after the last. `row.attempts` already counts this one. */
  private retryOrFail(row: DeliveryRow, responseStatus: number | null, error: string): AttemptOutcome {
    if (row.attempts >= this.opts.maxAttempts) return { status: 'failed', responseStatus, error, nextAttemptAt: null };
    const delay = this.opts.retryBaseMs * 3 ** (row.attempts - 1) * (0.9 + Math.random() * 0.2);
    return { status: 'pending', responseStatus, error, nextAttemptAt: new Date(Date.now() + delay).toISOString() };
  }

  /** Stops polling and aborts the requests in flight (their leases run out; another replica, or the next start, retries). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.stop$.abort();
    await Promise.allSettled([...this.requests]);
  }
}
