/**
 * The audit log: who (user, token or a command on the server machine)
 * changed what, the target, when and from which address, newest first;
 * filtered by kind of action, actor and target, paged by the server.
 * /w/:ws/audit (the workspace's admins) shows one workspace; /audit
 * (global admins) every workspace and the server-wide entries, with a
 * workspace column and filter. Targets that are agents, deployments or
 * activations link to their pages.
 */
import { useState } from 'preact/hooks';
import { api, wsPath } from '../api/client.js';
import type { AuditEntry, AuditList } from '../api/protocol.js';
import { ErrorBox } from '../components/error-box.js';
import { EmptyState, Loading, PageHeader } from '../components/layout.js';
import { Pager } from '../components/pager.js';
import { Time } from '../components/time.js';
import { count } from '../format.js';
import { useResource } from '../hooks/use-resource.js';
import { Link, setQuery, uiPath, useLocation } from '../router.js';
import { useWorkspace } from '../workspace.js';

const PAGE_SIZE = 50;

/** The kinds of action the filter offers (an action's first word). */
const ACTION_KINDS = ['token', 'activation', 'deployment', 'rollout', 'agent', 'cache', 'workspace', 'secret', 'webhook', 'user', 'session'] as const;

const ACTOR_KIND_LABELS: Record<AuditEntry['actor']['kind'], string> = { user: 'user', token: 'token', local: 'server machine' };

/** /w/:ws/audit: one workspace's log. */
export function AuditPage() {
  const ws = useWorkspace();
  return <AuditLog path={wsPath(ws.name, '/audit')} workspace={ws.name} />;
}

/** /audit: every workspace's log and the server-wide entries (global admins). */
export function ServerAuditPage() {
  return <AuditLog path="/admin/audit" workspace={null} />;
}

/** The page; `workspace` null: the whole server. */
function AuditLog({ path, workspace }: { path: string; workspace: string | null }) {
  const { query } = useLocation();
  const action = query.get('action') ?? '';
  const actor = query.get('actor') ?? '';
  const target = query.get('target') ?? '';
  const inWorkspace = workspace === null ? (query.get('workspace') ?? '') : '';
  const offset = Math.max(0, Number(query.get('offset')) || 0);
  const [actorInput, setActorInput] = useState(actor);
  const [targetInput, setTargetInput] = useState(target);
  const [workspaceInput, setWorkspaceInput] = useState(inWorkspace);
  const list = useResource(
    (signal) => api.get<AuditList>(path, { signal, query: { action, actor, target, workspace: inWorkspace, offset, limit: PAGE_SIZE } }),
    [path, action, actor, target, inWorkspace, offset],
  );
  const data = list.data;
  const filtered = action !== '' || actor !== '' || target !== '' || inWorkspace !== '';
  const kept = data ? (data.retentionDays > 0 ? `Entries are kept ${count(data.retentionDays)} days.` : 'Entries are kept for ever.') : '';

  return (
    <main class="page">
      <PageHeader
        title={workspace === null ? 'Audit log of the server' : 'Audit log'}
        pageTitle={workspace === null ? 'Audit log — every workspace' : `Audit log — ${workspace}`}
        sub={data ? `${count(data.total)} ${filtered ? 'matching' : 'changes recorded'}. ${kept}` : undefined}
      />
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ actor: actorInput.trim(), target: targetInput.trim(), ...(workspace === null ? { workspace: workspaceInput.trim() } : {}), offset: null });
        }}
      >
        <label class="field inline">
          <span>Action</span>
          <select name="action" value={action} onChange={(e) => setQuery({ action: e.currentTarget.value, offset: null })}>
            <option value="">all</option>
            {ACTION_KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        {workspace === null ? (
          <label class="field inline">
            <span>Workspace</span>
            <input type="search" name="workspace" placeholder="Name" value={workspaceInput} onInput={(e) => setWorkspaceInput(e.currentTarget.value)} />
          </label>
        ) : null}
        <label class="field inline">
          <span>Actor</span>
          <input type="search" name="actor" placeholder="User or token" value={actorInput} onInput={(e) => setActorInput(e.currentTarget.value)} />
        </label>
        <label class="field inline">
          <span>Target</span>
          <input type="search" name="target" placeholder="Id or name" value={targetInput} onInput={(e) => setTargetInput(e.currentTarget.value)} />
        </label>
        <button type="submit" class="button small">
          Filter
        </button>
      </form>
      <ErrorBox error={list.error} />
      {!data ? (
        list.error ? null : (
          <Loading what="the audit log" />
        )
      ) : data.entries.length === 0 && offset === 0 ? (
        filtered ? (
          <p class="empty-inline">No entry matches this filter.</p>
        ) : (
          <EmptyState title="Nothing recorded yet">
            <p>Every change to tokens, deployments, rollouts, agents, caches and settings is recorded here, with who made it.</p>
          </EmptyState>
        )
      ) : (
        <>
          <AuditTable entries={data.entries} workspace={workspace} />
          <Pager offset={offset} limit={PAGE_SIZE} shown={data.entries.length} total={data.total} onOffset={(o) => setQuery({ offset: o || null })} />
        </>
      )}
    </main>
  );
}

/** `workspace`: the workspace shown (its current name: entries keep the name they were filed under), null for every one. */
function AuditTable({ entries, workspace }: { entries: AuditEntry[]; workspace: string | null }) {
  const showWorkspace = workspace === null;
  return (
    <div class="table-wrap">
      <table class="table" data-testid="audit-table">
        <thead>
          <tr>
            <th scope="col">When</th>
            {showWorkspace ? <th scope="col">Workspace</th> : null}
            <th scope="col">Who</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col" class="wide-only">
              Address
            </th>
            <th scope="col" class="wide-only">
              Details
            </th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id} data-action={e.action}>
              <td>
                <Time iso={e.at} />
              </td>
              {showWorkspace ? <td>{e.workspace ?? <span class="muted">server</span>}</td> : null}
              <th scope="row">
                {e.actor.label} <span class="muted">({ACTOR_KIND_LABELS[e.actor.kind]})</span>
              </th>
              <td class="mono">{e.action}</td>
              <td class="mono">
                <TargetLink entry={e} workspace={workspace ?? e.workspace} />
              </td>
              <td class="wide-only mono">{e.address}</td>
              <td class="wide-only">
                <Details entry={e} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The target, linked when it is something with a page. */
function TargetLink({ entry, workspace }: { entry: AuditEntry; workspace: string | null }) {
  const target = entry.target;
  if (target === null) return <span class="muted">—</span>;
  if (workspace === null) return <>{target}</>;
  const kind = entry.action.split('.')[0];
  const section = kind === 'agent' ? 'agents' : kind === 'deployment' ? 'deployments' : kind === 'activation' || kind === 'rollout' ? 'activations' : null;
  // A decommissioned agent or a deleted workspace has no page any more; ids and names still say what it was.
  if (section === null || (kind === 'agent' && entry.action === 'agent.decommission')) return <>{target}</>;
  return <Link href={uiPath(workspace, section, target)}>{target}</Link>;
}

function Details({ entry }: { entry: AuditEntry }) {
  const facts = Object.entries(entry.details).filter(([, v]) => v !== null && v !== '');
  if (facts.length === 0) return <span class="muted">—</span>;
  return (
    <span class="audit-details">
      {facts.map(([k, v]) => (
        <span key={k} class="audit-detail">
          <span class="muted">{k}</span> {String(v)}
        </span>
      ))}
    </span>
  );
}
