/**
 * `drover webhooks list|create|update|rm|enable|disable|test|deliveries|retry` (admin
 * token) and `drover usage`: the webhooks of the token's workspace, their
 * delivery log, and its agents per month. `create` prints the signing
 * secret once.
 */
import {
  schemaDecoder,
  UsageSchema,
  WebhookCreateResponseSchema,
  WebhookDeliveryListSchema,
  WebhookDeliverySchema,
  WebhookListSchema,
  WebhookSchema,
  type Webhook,
  type WebhookEvent,
  type WebhookFormat,
} from '@drover/protocol';
import { info, out, printJson, table } from '../output.js';
import { adminClient, readerClient, type ReaderFlags } from './reader.js';

const decodeList = schemaDecoder(WebhookListSchema);
const decodeCreated = schemaDecoder(WebhookCreateResponseSchema);
const decodeHook = schemaDecoder(WebhookSchema);
const decodeDelivery = schemaDecoder(WebhookDeliverySchema);
const decodeDeliveries = schemaDecoder(WebhookDeliveryListSchema);
const decodeUsage = schemaDecoder(UsageSchema);

type JsonFlags = ReaderFlags & { json?: boolean };

function hookPath(id: string, rest = ''): string {
  return `/webhooks/${encodeURIComponent(id)}${rest}`;
}

function hookRows(hooks: readonly Webhook[]): string[][] {
  return [
    ['ID', 'URL', 'EVENTS', 'FORMAT', 'ENABLED', 'DESCRIPTION'],
    ...hooks.map((h) => [h.id, h.url, h.events.join(','), h.format, h.enabled ? 'yes' : 'no', h.description]),
  ];
}

export async function webhooksList(flags: JsonFlags): Promise<void> {
  const { webhooks } = await adminClient(flags).request('GET', '/webhooks', undefined, decodeList);
  if (flags.json) printJson({ webhooks });
  else if (webhooks.length === 0) info('no webhooks; add one with `drover webhooks create URL --event deployment.finished`');
  else out(table(hookRows(webhooks)));
}

export async function webhooksCreate(
  url: string,
  flags: JsonFlags & { event: WebhookEvent[]; format?: WebhookFormat; offlineMinutes?: string; description?: string },
): Promise<void> {
  const body = {
    url,
    events: flags.event,
    ...(flags.format ? { format: flags.format } : {}),
    ...(flags.offlineMinutes === undefined ? {} : { offlineMinutes: Number(flags.offlineMinutes) }),
    ...(flags.description === undefined ? {} : { description: flags.description }),
  };
  const created = await adminClient(flags).request('POST', '/webhooks', body, decodeCreated);
  if (flags.json) {
    printJson(created);
    return;
  }
  info(`webhook ${created.webhook.id} created for ${created.webhook.events.join(', ')}`);
  info('its signing secret follows, shown this once (X-Drover-Signature: sha256=HMAC-SHA256(secret, body)):');
  out(created.secret);
}

export async function webhooksRemove(id: string, flags: ReaderFlags): Promise<void> {
  await adminClient(flags).request('DELETE', hookPath(id));
  info(`webhook ${id} deleted`);
}

export async function webhooksUpdate(
  id: string,
  flags: JsonFlags & { url?: string; event?: WebhookEvent[]; format?: WebhookFormat; offlineMinutes?: string; description?: string },
): Promise<void> {
  const body = {
    ...(flags.url === undefined ? {} : { url: flags.url }),
    ...(flags.event === undefined ? {} : { events: flags.event }),
    ...(flags.format === undefined ? {} : { format: flags.format }),
    ...(flags.offlineMinutes === undefined ? {} : { offlineMinutes: Number(flags.offlineMinutes) }),
    ...(flags.description === undefined ? {} : { description: flags.description }),
  };
  const hook = await adminClient(flags).request('PATCH', hookPath(id), body, decodeHook);
  if (flags.json) printJson(hook);
  else out(table(hookRows([hook])));
}

export async function webhooksEnable(id: string, enabled: boolean, flags: JsonFlags): Promise<void> {
  const hook = await adminClient(flags).request('PATCH', hookPath(id), { enabled }, decodeHook);
  if (flags.json) printJson(hook);
  else info(`webhook ${id} ${enabled ? 'enabled' : 'disabled'}`);
}

export async function webhooksTest(id: string, flags: JsonFlags): Promise<void> {
  const delivery = await adminClient(flags).request('POST', hookPath(id, '/test'), undefined, decodeDelivery);
  if (flags.json) printJson(delivery);
  else info(`ping ${delivery.id} queued; see it with: drover webhooks deliveries ${id}`);
}

export async function webhooksDeliveries(id: string, flags: JsonFlags & { limit?: string; status?: string }): Promise<void> {
  const query = new URLSearchParams();
  if (flags.limit) query.set('limit', flags.limit);
  if (flags.status) query.set('status', flags.status);
  const qs = query.toString();
  const { deliveries } = await adminClient(flags).request('GET', hookPath(id, `/deliveries${qs ? `?${qs}` : ''}`), undefined, decodeDeliveries);
  if (flags.json) {
    printJson({ deliveries });
    return;
  }
  out(
    table([
      ['ID', 'EVENT', 'STATUS', 'ATTEMPTS', 'HTTP', 'CREATED', 'ERROR / NEXT ATTEMPT'],
      ...deliveries.map((d) => [
        d.id,
        d.event,
        d.status,
        String(d.attempts),
        d.responseStatus === null ? '-' : String(d.responseStatus),
        d.createdAt,
        [d.error ?? '', d.nextAttemptAt ? `next ${d.nextAttemptAt}` : ''].filter(Boolean).join('; '),
      ]),
    ]),
  );
}

export async function webhooksRetry(id: string, delivery: string, flags: JsonFlags): Promise<void> {
  const d = await adminClient(flags).request('POST', hookPath(id, `/deliveries/${encodeURIComponent(delivery)}/retry`), undefined, decodeDelivery);
  if (flags.json) printJson(d);
  else info(`delivery ${d.id} queued again`);
}

export async function usageCommand(flags: JsonFlags & { months?: string }): Promise<void> {
  const usage = await readerClient(flags).request('GET', `/usage${flags.months ? `?months=${encodeURIComponent(flags.months)}` : ''}`, undefined, decodeUsage);
  if (flags.json) {
    printJson(usage);
    return;
  }
  out(
    table([
      ['MONTH (UTC)', 'PEAK AGENTS', 'PEAK AT', 'AGENT-HOURS'],
      ...usage.months.map((m) => [m.month, String(m.peakAgents), m.peakAt ?? '-', m.agentHours.toFixed(2)]),
    ]),
  );
}
