/**
 * /w/:ws/settings (admins) — the binary cache the workspace's agents
 * substitute from (an external one, or its built-in caches), its usage per
 * month (peak agents at once, agent-hours), renaming the workspace, and deleting it (the name typed
 * again, as the API requires).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, wsPath } from '../api/client.js';
import type { Usage, Workspace } from '../api/protocol.js';
import { BuiltinCaches } from '../components/builtin-caches.js';
import { ErrorBox } from '../components/error-box.js';
import { Facts } from '../components/facts.js';
import { Loading, PageHeader } from '../components/layout.js';
import { Time } from '../components/time.js';
import { useAction } from '../hooks/use-action.js';
import { useResource } from '../hooks/use-resource.js';
import { navigate, uiPath } from '../router.js';
import { useSession } from '../session.js';
import { useWorkspace } from '../workspace.js';

export function SettingsPage() {
  const ws = useWorkspace();
  const workspace = useResource((signal) => api.get<Workspace>(wsPath(ws.name), { signal }), [ws.name]);
  return (
    <main class="page narrow">
      <PageHeader title="Settings" sub={`Workspace ${ws.name}`} />
      <ErrorBox error={workspace.error} />
      {!workspace.data ? (
        workspace.error ? null : (
          <Loading what="settings" />
        )
      ) : ws.canAdmin ? (
        <>
          <CacheForm workspace={workspace.data} onSaved={(w) => workspace.setData(() => w)} />
          <BuiltinCaches workspace={workspace.data} />
          <UsageCard />
          <RenameForm />
          <DeleteForm />
        </>
      ) : (
        <>
          <CacheSummary workspace={workspace.data} />
          <BuiltinCaches workspace={workspace.data} />
          <UsageCard />
        </>
      )}
    </main>
  );
}

/** Agents per UTC month: the most connected at once (the billing unit) and agent-hours. */
function UsageCard() {
  const ws = useWorkspace();
  const usage = useResource((signal) => api.get<Usage>(wsPath(ws.name, '/usage'), { signal }), [ws.name]);
  return (
    <section class="card" aria-labelledby="usage-title" data-testid="usage">
      <h2 id="usage-title">Usage</h2>
      <p class="help">Per month (UTC): the most agents connected at once, and the hours agents were connected (counted every minute).</p>
      <ErrorBox error={usage.error} />
      {!usage.data ? (
        usage.error ? null : (
          <Loading what="usage" />
        )
      ) : (
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Month</th>
                <th scope="col">Peak agents</th>
                <th scope="col">Peak at</th>
                <th scope="col">Agent-hours</th>
              </tr>
            </thead>
            <tbody>
              {usage.data.months.map((m) => (
                <tr key={m.month} data-month={m.month}>
                  <th scope="row">{m.month}</th>
                  <td data-testid="peak-agents">{m.peakAgents}</td>
                  <td>{m.peakAt ? <Time iso={m.peakAt} /> : <span class="muted">—</span>}</td>
                  <td data-testid="agent-hours">{m.agentHours.toFixed(2)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** What a non-admin sees: the cache, read only. */
function CacheSummary({ workspace }: { workspace: Workspace }) {
  const ws = useWorkspace();
  return (
    <section class="card" aria-labelledby="cache-title">
      <h2 id="cache-title">External binary cache</h2>
      {workspace.cache ? (
        <Facts
          items={[
            ['Substituter', <code>{workspace.cache.substituter}</code>],
            ['Public key', <code>{workspace.cache.publicKey}</code>],
          ]}
        />
      ) : (
        <p>No external cache is set.</p>
      )}
      <p class="help">
        Only an admin of {ws.name} can change settings; your role here is {ws.role ?? 'none'}.
      </p>
    </section>
  );
}

function CacheForm({ workspace, onSaved }: { workspace: Workspace; onSaved: (w: Workspace) => void }) {
  const [substituter, setSubstituter] = useState(workspace.cache?.substituter ?? '');
  const [publicKey, setPublicKey] = useState(workspace.cache?.publicKey ?? '');
  const [saved, setSaved] = useState(false);
  useEffect(() => setSaved(false), [substituter, publicKey]);
  const save = useAction(async (clear: boolean) => {
    const body = clear ? { substituter: null, publicKey: null } : { substituter: substituter.trim(), publicKey: publicKey.trim() };
    const w = await api.put<Workspace>(wsPath(workspace.name, '/cache'), body);
    if (clear) {
      setSubstituter('');
      setPublicKey('');
    }
    onSaved(w);
    setSaved(true);
  });
  return (
    <form
      class="card"
      aria-labelledby="cache-title"
      onSubmit={(e) => {
        e.preventDefault();
        void save.run(false);
      }}
    >
      <h2 id="cache-title">External binary cache</h2>
      <p class="help">
        Agents substitute every closure from this cache and require its signature. A cache saved here applies to the next deployment of every agent.
        {workspace.cache ? null : <strong> No external cache is set: agents use the workspace's built-in cache (below), if there is one.</strong>}
      </p>
      <label class="field">
        <span>Substituter URL</span>
        <input
          name="substituter"
          required
          placeholder="https://cache.example.org or s3://bucket?region=…"
          value={substituter}
          onInput={(e) => setSubstituter(e.currentTarget.value)}
        />
      </label>
      <label class="field">
        <span>Public key</span>
        <input name="publicKey" required placeholder="cache.example.org-1:base64…" value={publicKey} onInput={(e) => setPublicKey(e.currentTarget.value)} />
      </label>
      <ErrorBox error={save.error} />
      <div class="row">
        <button type="submit" class="button primary" disabled={save.running}>
          Save cache
        </button>
        {workspace.cache ? (
          <button type="button" class="button" disabled={save.running} onClick={() => void save.run(true)}>
            Clear
          </button>
        ) : null}
        {saved ? (
          <span class="ok" role="status">
            Saved.
          </span>
        ) : null}
      </div>
    </form>
  );
}

function RenameForm() {
  const ws = useWorkspace();
  const { refresh } = useSession();
  const [name, setName] = useState(ws.name);
  const rename = useAction(async () => {
    const w = await api.patch<Workspace>(wsPath(ws.name), { name: name.trim() });
    await refresh();
    navigate(uiPath(w.name, 'settings'), { replace: true });
  });
  return (
    <form
      class="card"
      aria-labelledby="rename-title"
      onSubmit={(e) => {
        e.preventDefault();
        void rename.run();
      }}
    >
      <h2 id="rename-title">Rename</h2>
      <p class="help">Tokens and agents keep working; links and commands that name the old workspace must be updated.</p>
      <div class="row">
        <label class="field grow">
          <span>New name</span>
          <input name="name" required maxLength={64} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit" class="button" disabled={rename.running || name.trim() === ws.name}>
          Rename
        </button>
      </div>
      <ErrorBox error={rename.error} />
    </form>
  );
}

function DeleteForm() {
  const ws = useWorkspace();
  const { refresh } = useSession();
  const [typed, setTyped] = useState('');
  const remove = useAction(async () => {
    await api.del(wsPath(ws.name), { query: { confirm: typed } });
    await refresh();
    navigate('/', { replace: true });
  });
  return (
    <form
      class="card danger-zone"
      aria-labelledby="delete-title"
      onSubmit={(e) => {
        e.preventDefault();
        void remove.run();
      }}
    >
      <h2 id="delete-title">Delete workspace</h2>
      <p class="help">Deletes its agents, tokens, deployments and logs. Agents of this workspace are disconnected. This cannot be undone.</p>
      <div class="row">
        <label class="field grow">
          <span>
            Type <strong>{ws.name}</strong> to confirm
          </span>
          <input name="confirm" autoComplete="off" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
        </label>
        <button type="submit" class="button danger" disabled={remove.running || typed !== ws.name}>
          Delete workspace
        </button>
      </div>
      <ErrorBox error={remove.error} />
    </form>
  );
}
