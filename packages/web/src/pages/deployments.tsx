/** /w/:ws/deployments — every deployment of the workspace, newest first, filtered by part of the agent name, part of the store path and status, updated live. */
import { useState } from 'preact/hooks';
import { DEPLOYMENT_STATUSES } from '../api/protocol.js';
import { DeploymentsTable } from '../components/deployments-table.js';
import { ErrorBox } from '../components/error-box.js';
import { EmptyState, Loading, PageHeader } from '../components/layout.js';
import { Pager } from '../components/pager.js';
import { count } from '../format.js';
import { useDeploymentList } from '../hooks/use-deployment-list.js';
import { setQuery, useLocation } from '../router.js';
import { useWorkspace } from '../workspace.js';

const PAGE_SIZE = 50;

export function DeploymentsPage() {
  const ws = useWorkspace();
  const { query } = useLocation();
  const agent = query.get('agent') ?? '';
  const path = query.get('path') ?? '';
  const status = query.get('status') ?? '';
  const offset = Math.max(0, Number(query.get('offset')) || 0);
  const [agentInput, setAgentInput] = useState(agent);
  const [pathInput, setPathInput] = useState(path);
  const list = useDeploymentList(ws.name, { agentContains: agent || undefined, path: path || undefined, status: status || undefined }, offset, PAGE_SIZE);
  const data = list.data;
  const filtered = agent !== '' || path !== '' || status !== '';

  return (
    <main class="page">
      <PageHeader
        title="Deployments"
        pageTitle={filtered ? `Deployments (filtered) — ${ws.name}` : `Deployments — ${ws.name}`}
        sub={data?.total !== undefined ? `${count(data.total)} ${filtered ? 'matching' : 'in this workspace'}` : undefined}
      />
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ agent: agentInput.trim(), path: pathInput.trim(), offset: null });
        }}
      >
        <label class="field inline">
          <span>Agent</span>
          <input type="search" name="agent" placeholder="Part of a name" value={agentInput} onInput={(e) => setAgentInput(e.currentTarget.value)} />
        </label>
        <label class="field inline">
          <span>Store path</span>
          <input type="search" name="path" placeholder="Hash or name" maxLength={300} value={pathInput} onInput={(e) => setPathInput(e.currentTarget.value)} />
        </label>
        <label class="field inline">
          <span>Status</span>
          <select name="status" value={status} onChange={(e) => setQuery({ status: e.currentTarget.value, offset: null })}>
            <option value="">all</option>
            {DEPLOYMENT_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="button small">
          Filter
        </button>
      </form>
      <ErrorBox error={list.error} />
      {!data ? (
        list.error ? null : (
          <Loading what="deployments" />
        )
      ) : data.deployments.length === 0 && offset === 0 ? (
        filtered ? (
          <p class="empty-inline">No deployment matches this filter.</p>
        ) : (
          <EmptyState title="No deployments yet">
            <p>
              Deployments are started with <code>drover activate deploy.json</code> (an activate token, from CI or a laptop), where deploy.json names a store
              path per agent: <code>{'{"agents": {"NAME": "/nix/store/…"}}'}</code>.
            </p>
          </EmptyState>
        )
      ) : (
        <>
          <DeploymentsTable deployments={data.deployments} workspace={ws.name} busy={list.loading} />
          <Pager offset={data.offset} limit={PAGE_SIZE} shown={data.deployments.length} total={data.total} onOffset={(o) => setQuery({ offset: o || null })} />
        </>
      )}
    </main>
  );
}
