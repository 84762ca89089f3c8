/**
 * /w/:ws/agents/:name — one agent: what it runs and reports, its deployment
 * history, its labels, (for deployers) re-deploying its current path or
 * re-running its failed last deployment, and (for admins) changing its labels
 * and decommissioning it.
 */
import { api, wsPath } from '../api/client.js';
import type { Agent, Deployment } from '../api/protocol.js';
import { AgentLabels } from '../components/agent-labels.js';
import { AgentNotes } from '../components/agent-notes.js';
import { ConfirmButton } from '../components/confirm-button.js';
import { CopyButton } from '../components/copy.js';
import { DeploymentsTable } from '../components/deployments-table.js';
import { ErrorBox } from '../components/error-box.js';
import { Facts } from '../components/facts.js';
import { EmptyState, Loading, PageHeader } from '../components/layout.js';
import { Pager } from '../components/pager.js';
import { PresenceBadge, StatusBadge } from '../components/status-badge.js';
import { Time } from '../components/time.js';
import { useAction } from '../hooks/use-action.js';
import { useDeploymentList } from '../hooks/use-deployment-list.js';
import { useResource } from '../hooks/use-resource.js';
import { Link, navigate, setQuery, uiPath, useLocation } from '../router.js';
import { useWorkspace, useWorkspaceEvents } from '../workspace.js';

const PAGE_SIZE = 25;

export function AgentPage({ name }: { name: string }) {
  const ws = useWorkspace();
  const { query } = useLocation();
  const offset = Math.max(0, Number(query.get('offset')) || 0);
  const agent = useResource((signal) => api.get<Agent>(wsPath(ws.name, `/agents/${encodeURIComponent(name)}`), { signal }), [ws.name, name]);
  const history = useDeploymentList(ws.name, { agent: name }, offset, PAGE_SIZE);

  useWorkspaceEvents((event) => {
    if (event.type === 'resync') agent.reload();
    if (event.type === 'agents') {
      const changed = event.agents.find((a) => a.name === name);
      if (changed) agent.setData(() => changed);
    }
  });

  const redeploy = useAction(async () => {
    const d = await api.post<Deployment>(wsPath(ws.name, `/agents/${encodeURIComponent(name)}/redeploy`));
    navigate(uiPath(ws.name, 'deployments', d.id));
  });
  const remove = useAction(async () => {
    await api.del(wsPath(ws.name, `/agents/${encodeURIComponent(name)}`));
    navigate(uiPath(ws.name, 'agents'));
  });
  const rerun = useAction(async (id: string) => {
    const d = await api.post<Deployment>(wsPath(ws.name, `/deployments/${id}/rerun`));
    navigate(uiPath(ws.name, 'deployments', d.id));
  });

  const a = agent.data;
  if (!a) {
    return (
      <main class="page">
        <PageHeader title={name} pageTitle={`${name} — Agent`} sub={<Link href={uiPath(ws.name, 'agents')}>← All agents</Link>} />
        {agent.error ? <ErrorBox error={agent.error} /> : <Loading what="the agent" />}
      </main>
    );
  }
  const failed = a.lastDeployment?.status === 'Failed' ? a.lastDeployment : null;
  return (
    <main class="page">
      <PageHeader
        title={
          <>
            {a.name} <PresenceBadge agent={a} />
          </>
        }
        pageTitle={`${a.name} · ${a.online ? 'online' : 'offline'} — Agent`}
        sub={<Link href={uiPath(ws.name, 'agents')}>← All agents</Link>}
        actions={
          ws.canDeploy || ws.canAdmin ? (
            <>
              {ws.canAdmin ? (
                <ConfirmButton label="Remove agent" confirmLabel={`Really remove ${a.name}?`} onConfirm={() => void remove.run()} disabled={remove.running} />
              ) : null}
              {ws.canDeploy && failed ? (
                <ConfirmButton
                  kind="primary"
                  label={`Re-run failed #${failed.index}`}
                  confirmLabel={`Re-run #${failed.index} now`}
                  disabled={rerun.running}
                  onConfirm={() => void rerun.run(failed.id)}
                />
              ) : null}
              {ws.canDeploy && a.currentStorePath ? (
                <ConfirmButton
                  kind="primary"
                  label="Re-deploy current path"
                  confirmLabel={`Re-deploy to ${a.name} now`}
                  disabled={redeploy.running}
                  onConfirm={() => void redeploy.run()}
                  title={a.currentStorePath}
                />
              ) : null}
            </>
          ) : null
        }
      />
      <AgentNotes agent={a} />
      <ErrorBox error={redeploy.error ?? rerun.error} title="Could not start the deployment" />
      <ErrorBox error={remove.error} title="Could not remove the agent" />
      <Facts
        items={[
          [
            'Last seen',
            a.online ? (
              <>
                online since <Time iso={a.connectedAt} />
              </>
            ) : (
              <Time iso={a.lastSeenAt} />
            ),
          ],
          ['Host', a.hostname],
          ['Agent version', a.version],
          ['System', a.system],
          ['Profile', a.profile ? <code>{a.profile}</code> : null],
          [
            'Age recipient',
            a.recipient ? (
              <span class="path" data-testid="agent-recipient">
                <code>{a.recipient}</code> <CopyButton text={a.recipient} />
              </span>
            ) : (
              <span class="muted" data-testid="agent-recipient">
                none (an older agent: no secret can be set for it)
              </span>
            ),
            'wide',
          ],
          [
            'Current store path',
            a.currentStorePath ? (
              <span class="path">
                <code>{a.currentStorePath}</code> <CopyButton text={a.currentStorePath} />
              </span>
            ) : null,
            a.currentStorePath ? 'wide' : undefined,
          ],
          [
            'Last deployment',
            a.lastDeployment ? (
              <Link href={uiPath(ws.name, 'deployments', a.lastDeployment.id)} class="status-link">
                <StatusBadge status={a.lastDeployment.status} /> #{a.lastDeployment.index}
              </Link>
            ) : null,
          ],
          ['Known since', <Time iso={a.createdAt} />],
        ]}
      />
      <AgentLabels agent={a} onChanged={(changed) => agent.setData(() => changed)} />
      <h2>Deployment history</h2>
      <ErrorBox error={history.error} />
      {!history.data ? (
        history.error ? null : (
          <Loading what="deployments" />
        )
      ) : history.data.deployments.length === 0 && offset === 0 ? (
        <EmptyState title="Never deployed">
          <p>
            Deploy to it with <code>{`drover activate deploy.json`}</code> where deploy.json holds <code>{`{"agents": {"${a.name}": "/nix/store/…"}}`}</code>.
          </p>
        </EmptyState>
      ) : (
        <>
          <DeploymentsTable deployments={history.data.deployments} workspace={ws.name} showAgent={false} busy={history.loading} />
          <Pager
            offset={history.data.offset}
            limit={PAGE_SIZE}
            shown={history.data.deployments.length}
            total={history.data.total}
            onOffset={(o) => setQuery({ offset: o || null })}
          />
        </>
      )}
    </main>
  );
}
