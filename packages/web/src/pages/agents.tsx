/**
 * /w/:ws/agents — the workspace's home: the fleet overview, then every agent
 * of the workspace, paged on the server (50 rows a page, so 10,000 agents
 * cost what 50 do), filtered by name, label selector and status (presence,
 * latest deployment, behind), kept current by the workspace's live events.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, wsPath } from '../api/client.js';
import { AGENT_STATUS_FILTERS, type Agent, type AgentList } from '../api/protocol.js';
import { AgentNotes } from '../components/agent-notes.js';
import { NoAgentsYet } from '../components/agents-empty.js';
import { ErrorBox } from '../components/error-box.js';
import { FleetOverview } from '../components/fleet-overview.js';
import { LabelChips } from '../components/label-chips.js';
import { Loading, PageHeader } from '../components/layout.js';
import { Pager } from '../components/pager.js';
import { PresenceBadge, StatusBadge } from '../components/status-badge.js';
import { Time } from '../components/time.js';
import { count, shortStorePath } from '../format.js';
import { useCoalesced, useDebounced } from '../hooks/use-debounced.js';
import { useResource } from '../hooks/use-resource.js';
import { Link, setQuery, uiPath, useLocation } from '../router.js';
import { useWorkspace, useWorkspaceEvents } from '../workspace.js';

const PAGE_SIZE = 50;

export function AgentsPage() {
  const ws = useWorkspace();
  const { query } = useLocation();
  const statusParam = query.get('status');
  const status = AGENT_STATUS_FILTERS.find((s) => s === statusParam) ?? '';
  const offset = Math.max(0, Number(query.get('offset')) || 0);
  const [search, setSearch] = useState(query.get('q') ?? '');
  const q = useDebounced(search.trim(), 250);
  const [selectorText, setSelectorText] = useState(query.get('selector') ?? '');
  const selector = useDebounced(selectorText.trim(), 400);

  useEffect(() => {
    if (q !== (query.get('q') ?? '')) setQuery({ q, offset: null });
  }, [q]);
  useEffect(() => {
    if (selector !== (query.get('selector') ?? '')) setQuery({ selector, offset: null });
  }, [selector]);

  // The page's offset travels with its rows, so the pager never labels the previous page's rows while the next one loads.
  const list = useResource(
    async (signal) => ({
      ...(await api.get<AgentList>(wsPath(ws.name, '/agents'), {
        query: { q: query.get('q'), selector: query.get('selector'), status, limit: PAGE_SIZE, offset },
        signal,
      })),
      offset,
    }),
    [ws.name, query.get('q'), query.get('selector'), status, offset],
  );
  const refetch = useCoalesced(list.reload, 1000);

  useWorkspaceEvents((event) => {
    if (event.type === 'resync') return refetch();
    if (event.type !== 'agents') return;
    const current = list.data;
    if (!current) return;
    const byId = new Map(event.agents.map((a) => [a.id, a]));
    let unknown = false;
    for (const a of event.agents) if (!current.agents.some((c) => c.id === a.id)) unknown = true;
    list.setData((prev) => prev && { ...prev, agents: prev.agents.map((a) => byId.get(a.id) ?? a) });
    // Any filter but none may leave or gain rows when an agent changes: read the page again.
    const filteredNow = status !== '' || (query.get('selector') ?? '') !== '';
    if (unknown || filteredNow) refetch();
  });

  const filtered = status !== '' || (query.get('q') ?? '') !== '' || (query.get('selector') ?? '') !== '';
  const data = list.data;
  return (
    <main class="page">
      <PageHeader title="Agents" sub={data ? `${count(data.total)} ${filtered ? 'matching' : 'in this workspace'}` : undefined} />
      <FleetOverview active={status} />
      <div class="filters" role="search">
        <label class="field inline">
          <span>Name</span>
          <input type="search" name="q" placeholder="Filter by name" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </label>
        <label class="field inline">
          <span>Labels</span>
          <input
            type="search"
            name="selector"
            placeholder="role=web,region!=eu"
            title="k=v, k!=v, k (has it), !k (has none), joined by commas"
            value={selectorText}
            onInput={(e) => setSelectorText(e.currentTarget.value)}
          />
        </label>
        <label class="field inline">
          <span>Status</span>
          <select name="status" value={status} onChange={(e) => setQuery({ status: e.currentTarget.value, offset: null })}>
            <option value="">all</option>
            {AGENT_STATUS_FILTERS.map((s) => (
              <option key={s} value={s}>
                {s === 'inprogress' ? 'in progress' : s}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBox error={list.error} />
      {!data ? (
        list.error ? null : (
          <Loading what="agents" />
        )
      ) : data.total === 0 && !filtered ? (
        <NoAgentsYet />
      ) : data.agents.length === 0 ? (
        <p class="empty-inline">No agent matches this filter.</p>
      ) : (
        <>
          <AgentsTable agents={data.agents} workspace={ws.name} busy={list.loading} />
          <Pager offset={data.offset} limit={PAGE_SIZE} shown={data.agents.length} total={data.total} onOffset={(o) => setQuery({ offset: o || null })} />
        </>
      )}
    </main>
  );
}

function AgentsTable({ agents, workspace, busy }: { agents: Agent[]; workspace: string; busy: boolean }) {
  return (
    <div class="table-wrap" aria-busy={busy}>
      <table class="table" data-testid="agents-table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">Labels</th>
            <th scope="col" class="wide-only">
              Last seen
            </th>
            <th scope="col" class="wide-only">
              Version
            </th>
            <th scope="col" class="wide-only">
              System
            </th>
            <th scope="col" class="wide-only">
              Profile
            </th>
            <th scope="col" class="wide-only">
              Current store path
            </th>
            <th scope="col">Last deployment</th>
          </tr>
        </thead>
        <tbody>
          {agents.map((a) => (
            <tr key={a.id} data-agent={a.name}>
              <th scope="row">
                <Link href={uiPath(workspace, 'agents', a.name)}>{a.name}</Link>
              </th>
              <td>
                <PresenceBadge agent={a} />
                <AgentNotes agent={a} compact />
              </td>
              <td>
                <LabelChips labels={a.labels} />
              </td>
              <td class="wide-only">
                {a.online ? <span class="muted">now</span> : a.lastSeenAt ? <Time iso={a.lastSeenAt} /> : <span class="muted">never connected</span>}
              </td>
              <td class="wide-only mono">{a.version ?? '—'}</td>
              <td class="wide-only mono">{a.system ?? '—'}</td>
              <td class="wide-only mono truncate" title={a.profile ?? ''}>
                {a.profile ?? '—'}
              </td>
              <td class="wide-only mono truncate" title={a.currentStorePath ?? ''}>
                {shortStorePath(a.currentStorePath)}
              </td>
              <td>
                {a.lastDeployment ? (
                  <Link href={uiPath(workspace, 'deployments', a.lastDeployment.id)} class="status-link">
                    <StatusBadge status={a.lastDeployment.status} /> <span class="muted">#{a.lastDeployment.index}</span>
                  </Link>
                ) : (
                  <span class="muted">never deployed</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
