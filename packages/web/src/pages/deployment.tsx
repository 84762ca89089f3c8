/**
 * /w/:ws/deployments/:id — one deployment (the page `drover activate` links
 * to): its facts, the agent's previous deployment (and for a Superseded one
 * the deployment that replaced it), what it changes (its closure diff), its
 * log streaming live while it runs and complete after, and for deployers Cancel (while Pending or InProgress), End it (InProgress
 * whose agent never reported) and Re-run.
 */
import { api, wsPath } from '../api/client.js';
import { isFinalStatus, type Deployment, type DeploymentDetail } from '../api/protocol.js';
import { ClosureDiffView } from '../components/closure-diff.js';
import { ConfirmButton } from '../components/confirm-button.js';
import { CopyButton } from '../components/copy.js';
import { DryRunFindings } from '../components/dry-run.js';
import { ActorLabel } from '../components/deployments-table.js';
import { EndDeploymentButton } from '../components/end-deployment.js';
import { ErrorBox } from '../components/error-box.js';
import { Facts, type Fact } from '../components/facts.js';
import { Loading, PageHeader } from '../components/layout.js';
import { LogView } from '../components/log-view.js';
import { PendingNotice } from '../components/pending-notice.js';
import { StatusBadge } from '../components/status-badge.js';
import { Time } from '../components/time.js';
import { bytes, duration, shortId } from '../format.js';
import { useAction } from '../hooks/use-action.js';
import { useLiveLog } from '../hooks/use-live-log.js';
import { useNow } from '../hooks/use-now.js';
import { useResource } from '../hooks/use-resource.js';
import { Link, navigate, uiPath } from '../router.js';
import { useWorkspace, useWorkspaceEvents } from '../workspace.js';

export function DeploymentPage({ id }: { id: string }) {
  const ws = useWorkspace();
  const fetched = useResource((signal) => api.get<DeploymentDetail>(wsPath(ws.name, `/deployments/${encodeURIComponent(id)}`), { signal }), [ws.name, id]);
  const log = useLiveLog(ws.name, id);
  const now = useNow(1000);

  useWorkspaceEvents((event) => {
    if (event.type === 'deployments') {
      const changed = event.deployments.find((d) => d.id === id);
      if (!changed) return;
      // The event carries the deployment only; its neighbours stay, and a newly Superseded one learns what replaced it.
      if (changed.status === 'Superseded' && !fetched.data?.supersededBy) fetched.reload();
      else fetched.setData((old) => withNeighbours(changed, old));
    }
  });

  const cancel = useAction(async () => {
    const d = await api.post<Deployment>(wsPath(ws.name, `/deployments/${id}/cancel`));
    fetched.setData((old) => withNeighbours(d, old));
  });
  const rerun = useAction(async () => {
    const d = await api.post<Deployment>(wsPath(ws.name, `/deployments/${id}/rerun`));
    navigate(uiPath(ws.name, 'deployments', d.id));
  });

  const d = newest(fetched.data, log.deployment);
  if (!d) {
    return (
      <main class="page">
        <PageHeader title="Deployment" pageTitle={`${shortId(id)} — Deployment`} sub={<Link href={uiPath(ws.name, 'deployments')}>← All deployments</Link>} />
        {fetched.error ? <ErrorBox error={fetched.error} /> : <Loading what="the deployment" />}
      </main>
    );
  }
  const final = isFinalStatus(d.status);
  const previous = fetched.data?.previous ?? null;
  const supersededBy = fetched.data?.supersededBy ?? null;
  return (
    <main class="page">
      <PageHeader
        title={
          <>
            {d.agent} #{d.index} <StatusBadge status={d.status} />
            {d.secretsOnly ? (
              <span class="dry-tag" title="A secret changed: the agent rewrote its secrets; the profile was not touched">
                secrets only
              </span>
            ) : null}
          </>
        }
        pageTitle={`${d.agent} #${d.index} · ${d.status} — Deployment`}
        sub={<Link href={uiPath(ws.name, 'deployments')}>← All deployments</Link>}
        actions={
          ws.canDeploy ? (
            final ? (
              <ConfirmButton
                kind="primary"
                label="Re-run"
                confirmLabel={`Re-run on ${d.agent} now`}
                disabled={rerun.running}
                onConfirm={() => void rerun.run()}
              />
            ) : (
              <>
                <ConfirmButton
                  kind="danger"
                  label={d.status === 'InProgress' ? 'Cancel (ask the agent to stop)' : 'Cancel'}
                  confirmLabel="Cancel it now"
                  disabled={cancel.running}
                  onConfirm={() => void cancel.run()}
                />
                {d.status === 'InProgress' ? (
                  <EndDeploymentButton workspace={ws.name} id={d.id} onEnded={(ended) => fetched.setData((old) => withNeighbours(ended, old))} />
                ) : null}
              </>
            )
          ) : null
        }
      />
      <ErrorBox error={cancel.error} title="Could not cancel" />
      <ErrorBox error={rerun.error} title="Could not re-run" />
      {d.status === 'Pending' ? <PendingNotice agentName={d.agent} /> : null}
      {d.reason ? (
        <p class={`reason reason-${d.status.toLowerCase()}`} data-testid="reason">
          {d.reason}
        </p>
      ) : null}
      <DryRunFindings deployment={d} />
      <Facts
        items={[
          ['Agent', <Link href={uiPath(ws.name, 'agents', d.agent)}>{d.agent}</Link>],
          [
            'Store path',
            <span class="path">
              <code>{d.storePath}</code> <CopyButton text={d.storePath} />
            </span>,
            'wide',
          ],
          ['Started by', <ActorLabel actor={d.createdBy} />],
          ['Activation', <Link href={uiPath(ws.name, 'activations', d.activationId)}>{shortId(d.activationId)}</Link>],
          [
            'Previous deployment',
            previous ? (
              <span data-testid="previous-deployment">
                <Link href={uiPath(ws.name, 'deployments', previous.id)}>
                  <code>{previous.storePath}</code>
                </Link>{' '}
                <StatusBadge status={previous.status} />
              </span>
            ) : (
              <span class="muted">none: the first deployment to {d.agent}</span>
            ),
            'wide',
          ],
          ...(supersededBy
            ? ([
                [
                  'Superseded by',
                  <Link href={uiPath(ws.name, 'deployments', supersededBy.id)} data-testid="superseded-by">
                    the newer deployment {supersededBy.id}
                  </Link>,
                  'wide',
                ],
              ] as Fact[])
            : []),
          ...(d.endedBy
            ? ([
                [
                  'Ended by',
                  <span data-testid="ended-by">
                    <ActorLabel actor={d.endedBy.actor} /> <Time iso={d.endedBy.at} />: {d.endedBy.reason}
                  </span>,
                  'wide',
                ],
              ] as Fact[])
            : []),
          ['Created', <Time iso={d.createdAt} exact />],
          ['Started', <Time iso={d.startedAt} exact />],
          ['Finished', <Time iso={d.finishedAt} exact />],
          ['Duration', duration(d.startedAt, d.finishedAt, now)],
          ['Closure size', bytes(d.closureSize)],
          ...(d.rollbackScript ? ([['Rollback script', <code>{d.rollbackScript}</code>, 'wide']] as Fact[]) : []),
        ]}
      />
      <ClosureDiffView diff={d.diff} status={d.status} />
      <div class="log-header">
        <h2>Log</h2>
        <span class="muted" data-testid="log-state">
          {log.ended
            ? `${log.hasOlder ? 'last ' : ''}${log.lines.length} lines${log.hasOlder ? ' shown' : ''}, complete`
            : d.status === 'Pending'
              ? 'waiting for the agent to start…'
              : 'streaming…'}
        </span>
      </div>
      <ErrorBox error={log.error} title="Log stream" />
      {log.lines.length === 0 && log.ended ? (
        <p class="empty-inline">This deployment wrote no log.</p>
      ) : (
        <LogView lines={log.lines} live={!log.ended} hasOlder={log.hasOlder} loadingOlder={log.loadingOlder} onLoadOlder={log.loadOlder} />
      )}
    </main>
  );
}

/** A newer snapshot of the deployment, keeping the neighbours the page fetched with it. */
function withNeighbours(d: Deployment, old: DeploymentDetail | undefined): DeploymentDetail {
  return { ...d, previous: old?.previous ?? null, supersededBy: old?.supersededBy ?? null };
}

/** Of two snapshots of one deployment, the one further along (a status from the stream may be newer than the fetch). */
function newest(a: Deployment | undefined, b: Deployment | null): Deployment | undefined {
  if (!a) return b ?? undefined;
  if (!b) return a;
  const rank = (d: Deployment) => (isFinalStatus(d.status) ? 2 : d.status === 'InProgress' ? 1 : 0);
  const further = (x: Deployment) => (x.closureSize ?? -1) + (x.diff ? 1 : 0);
  return rank(b) > rank(a) || (rank(b) === rank(a) && further(b) > further(a)) ? b : a;
}
