/**
 * /w/:ws/webhooks (admins; others are told why they see nothing) — the workspace's webhooks: add one (URL,
 * events, JSON or Slack format; its signing secret is shown once), pause or
 * delete it, send a test ping, and read its delivery log (status, attempts,
 * the last answer or error, the body as sent) with a button to send one again.
 */
import { useState } from 'preact/hooks';
import { api, wsPath } from '../api/client.js';
import {
  WEBHOOK_EVENTS,
  WEBHOOK_FORMATS,
  type Webhook,
  type WebhookCreated,
  type WebhookDeliveryList,
  type WebhookEvent,
  type WebhookFormat,
} from '../api/protocol.js';
import { ConfirmButton } from '../components/confirm-button.js';
import { CopyBlock } from '../components/copy.js';
import { ErrorBox } from '../components/error-box.js';
import { EmptyState, Loading, PageHeader } from '../components/layout.js';
import { Time } from '../components/time.js';
import { useAction } from '../hooks/use-action.js';
import { useResource } from '../hooks/use-resource.js';
import { useWorkspace } from '../workspace.js';

const EVENT_HELP: Record<WebhookEvent, string> = {
  'deployment.started': 'an agent started a deployment',
  'deployment.finished': 'a deployment ended (Succeeded, Failed, Cancelled, Superseded, Held)',
  'activation.finished': 'every deployment of an activation ended',
  'rollout.finished': 'a staged rollout completed, stopped or was aborted',
  'agent.offline': 'an agent has been offline for longer than the minutes below',
};

export function WebhooksPage() {
  const ws = useWorkspace();
  if (!ws.canAdmin) {
    return (
      <main class="page">
        <PageHeader title="Webhooks" sub={`Workspace ${ws.name}`} />
        <section class="card" data-testid="webhooks-admins-only">
          <p>
            Only an admin of {ws.name} can see and change its webhooks (their URLs can carry credentials); your role here is {ws.role ?? 'none'}.
          </p>
        </section>
      </main>
    );
  }
  return <WebhooksList />;
}

function WebhooksList() {
  const ws = useWorkspace();
  const list = useResource((signal) => api.get<{ webhooks: Webhook[] }>(wsPath(ws.name, '/webhooks'), { signal }), [ws.name]);
  const [created, setCreated] = useState<WebhookCreated | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const hooks = list.data?.webhooks;
  return (
    <main class="page">
      <PageHeader
        title="Webhooks"
        sub="Drover POSTs each event as JSON, signed with the hook's secret (X-Drover-Signature: sha256=HMAC-SHA256). Failed deliveries are retried with backoff."
      />
      <CreateWebhookForm
        onCreated={(c) => {
          setCreated(c);
          list.reload();
        }}
      />
      {created ? <NewWebhookSecret created={created} onDone={() => setCreated(null)} /> : null}
      <h2>All webhooks</h2>
      <ErrorBox error={list.error} />
      {!hooks ? (
        list.error ? null : (
          <Loading what="webhooks" />
        )
      ) : hooks.length === 0 ? (
        <EmptyState title="No webhooks yet">
          <p>Add one above to hear about deployments, rollouts and agents that went offline.</p>
        </EmptyState>
      ) : (
        hooks.map((h) => (
          <WebhookCard key={h.id} hook={h} open={open === h.id} onToggle={() => setOpen(open === h.id ? null : h.id)} onChanged={() => list.reload()} />
        ))
      )}
    </main>
  );
}

function CreateWebhookForm({ onCreated }: { onCreated: (c: WebhookCreated) => void }) {
  const ws = useWorkspace();
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<WebhookEvent[]>(['deployment.finished']);
  const [format, setFormat] = useState<WebhookFormat>('json');
  const [minutes, setMinutes] = useState('10');
  const [description, setDescription] = useState('');
  const create = useAction(async () => {
    const body = {
      url: url.trim(),
      events,
      format,
      ...(events.includes('agent.offline') ? { offlineMinutes: Number(minutes) } : {}),
      ...(description.trim() ? { description: description.trim() } : {}),
    };
    onCreated(await api.post<WebhookCreated>(wsPath(ws.name, '/webhooks'), body));
    setUrl('');
    setDescription('');
  });
  const toggle = (e: WebhookEvent, on: boolean) => setEvents((prev) => (on ? [...prev.filter((x) => x !== e), e] : prev.filter((x) => x !== e)));
  return (
    <form
      class="card"
      aria-label="Add a webhook"
      onSubmit={(e) => {
        e.preventDefault();
        void create.run();
      }}
    >
      <h2>New webhook</h2>
      <div class="row wrap">
        <label class="field grow">
          <span>URL</span>
          <input
            name="url"
            type="url"
            required
            placeholder="https://hooks.example.com/drover"
            maxLength={2048}
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
        </label>
        <label class="field">
          <span>Format</span>
          <select name="format" value={format} onChange={(e) => setFormat(e.currentTarget.value as WebhookFormat)}>
            {WEBHOOK_FORMATS.map((f) => (
              <option key={f} value={f}>
                {f === 'json' ? 'JSON (Drover)' : 'Slack-compatible'}
              </option>
            ))}
          </select>
        </label>
      </div>
      <fieldset class="events">
        <legend>Events</legend>
        {WEBHOOK_EVENTS.map((e) => (
          <label key={e} class="check">
            <input type="checkbox" name={`event-${e}`} checked={events.includes(e)} onChange={(ev) => toggle(e, ev.currentTarget.checked)} />
            <span>
              <code>{e}</code> — {EVENT_HELP[e]}
            </span>
          </label>
        ))}
      </fieldset>
      <div class="row wrap">
        {events.includes('agent.offline') ? (
          <label class="field">
            <span>Offline for more than (minutes)</span>
            <input name="offlineMinutes" type="number" min={1} max={10080} required value={minutes} onInput={(e) => setMinutes(e.currentTarget.value)} />
          </label>
        ) : null}
        <label class="field grow">
          <span>Description</span>
          <input
            name="description"
            placeholder="what it is for, e.g. #deploys channel"
            maxLength={256}
            value={description}
            onInput={(e) => setDescription(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="button primary" disabled={create.running || events.length === 0}>
          Add webhook
        </button>
      </div>
      <ErrorBox error={create.error} />
    </form>
  );
}

function NewWebhookSecret({ created, onDone }: { created: WebhookCreated; onDone: () => void }) {
  return (
    <section class="card secret" aria-labelledby="new-webhook-title" data-testid="new-webhook">
      <h2 id="new-webhook-title">Signing secret of {created.webhook.url}</h2>
      <p>Copy it now: it is not shown again. The receiver checks X-Drover-Signature against HMAC-SHA256 of the body keyed with it.</p>
      <CopyBlock text={created.secret} label="Secret" testId="new-webhook-secret" />
      <button type="button" class="button" onClick={onDone}>
        Done, I copied it
      </button>
    </section>
  );
}

function WebhookCard({ hook, open, onToggle, onChanged }: { hook: Webhook; open: boolean; onToggle: () => void; onChanged: () => void }) {
  const ws = useWorkspace();
  const path = wsPath(ws.name, `/webhooks/${encodeURIComponent(hook.id)}`);
  const act = useAction(async (what: 'enable' | 'disable' | 'test' | 'delete') => {
    if (what === 'delete') await api.del(path);
    else if (what === 'test') await api.post(`${path}/test`, undefined);
    else await api.patch(path, { enabled: what === 'enable' });
    onChanged();
  });
  return (
    <section class="card webhook" data-webhook={hook.id} aria-label={`Webhook ${hook.url}`}>
      <div class="webhook-head">
        <h3 class="mono">{hook.url}</h3>
        {hook.enabled ? <span class="badge ok">enabled</span> : <span class="badge warn">paused</span>}
        <span class="badge">{hook.format}</span>
      </div>
      <p class="help">
        {hook.description ? `${hook.description} · ` : ''}
        {hook.events.join(', ')}
        {hook.events.includes('agent.offline') ? ` (offline > ${hook.offlineMinutes} min)` : ''} · created <Time iso={hook.createdAt} />
      </p>
      <div class="webhook-actions">
        <button type="button" class="button small" aria-expanded={open} onClick={onToggle}>
          {open ? 'Hide deliveries' : 'Deliveries'}
        </button>
        <button type="button" class="button small" disabled={act.running} onClick={() => void act.run('test')}>
          Send test
        </button>
        <button type="button" class="button small" disabled={act.running} onClick={() => void act.run(hook.enabled ? 'disable' : 'enable')}>
          {hook.enabled ? 'Pause' : 'Enable'}
        </button>
        <ConfirmButton label="Delete" confirmLabel="Delete now" disabled={act.running} onConfirm={() => void act.run('delete')} />
      </div>
      <ErrorBox error={act.error} />
      {open ? <DeliveryLog path={path} /> : null}
    </section>
  );
}

function DeliveryLog({ path }: { path: string }) {
  const log = useResource((signal) => api.get<WebhookDeliveryList>(`${path}/deliveries`, { signal }), [path]);
  const retry = useAction(async (id: string) => {
    await api.post(`${path}/deliveries/${encodeURIComponent(id)}/retry`, undefined);
    log.reload();
  });
  const deliveries = log.data?.deliveries;
  return (
    <div class="deliveries">
      <div class="webhook-head">
        <h4>Delivery log</h4>
        <button type="button" class="button small quiet" onClick={() => log.reload()}>
          Refresh
        </button>
      </div>
      <ErrorBox error={log.error ?? retry.error} />
      {!deliveries ? (
        log.error ? null : (
          <Loading what="deliveries" />
        )
      ) : deliveries.length === 0 ? (
        <p class="muted">Nothing delivered yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="table" data-testid="deliveries-table">
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Answer</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={d.id} data-delivery={d.id} data-status={d.status}>
                  <th scope="row">
                    <details>
                      <summary>
                        <code>{d.event}</code>
                      </summary>
                      <pre class="body">{d.body}</pre>
                    </details>
                  </th>
                  <td>
                    <span class={`badge ${d.status === 'delivered' ? 'ok' : d.status === 'failed' ? 'danger' : 'warn'}`}>{d.status}</span>
                  </td>
                  <td>{d.attempts}</td>
                  <td>
                    {d.responseStatus !== null ? `HTTP ${d.responseStatus}` : ''}
                    {d.error ? <span class="muted"> {d.error}</span> : null}
                    {d.nextAttemptAt ? (
                      <span class="muted">
                        {' '}
                        next <Time iso={d.nextAttemptAt} />
                      </span>
                    ) : null}
                  </td>
                  <td>
                    <Time iso={d.createdAt} />
                  </td>
                  <td class="actions-cell">
                    {d.status === 'pending' ? null : (
                      <button type="button" class="button small" disabled={retry.running} onClick={() => void retry.run(d.id)}>
                        Send again
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
