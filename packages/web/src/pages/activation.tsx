/**
 * /w/:ws/activations/:id — one activation (the page `drover activate` prints
 * for the whole of it): its state and counts by status, one row per agent
 * grouped per wave (one group for a plain activation), each linking to its
 * deployment, the agents left unchanged (already on the path), and for a
 * rollout its settings and, for deployers, Pause/Resume/Abort. Rows follow
 * the workspace's live events.
 */
import { useState } from 'preact/hooks';
import type { ActivationInfo, Rollout } from '../api/activation.js';
import { activationState, countByStatus, groupByWave, isLive, type Counts, type Group } from '../components/activation-summary.js';
import { ActorLabel } from '../components/deployments-table.js';
import { ErrorBox } from '../components/error-box.js';
import { Facts, type Fact } from '../components/facts.js';
import { Loading, PageHeader } from '../components/layout.js';
import { RolloutControls } from '../components/rollout-controls.js';
import { StatusBadge } from '../components/status-badge.js';
import { Time } from '../components/time.js';
import { duration, shortId, shortStorePath } from '../format.js';
import { useActivation } from '../hooks/use-activation.js';
import { useNow } from '../hooks/use-now.js';
import { Link, uiPath } from '../router.js';
import { useWorkspace } from '../workspace.js';

/** Rows shown per wave before "Show all" (a 10,000-agent wave stays quick to draw). */
const ROWS_SHOWN = 200;
const EPOCH = new Date(0).toISOString();
/** The rows' columns: heading and class (`wide-only` ones are left out on phones). */
const COLUMNS: [label: string, cls: string][] = [
  ['Agent', 'col-agent'],
  ['Status', 'col-status'],
  ['Deployment', 'col-deployment'],
  ['Duration', 'num wide-only col-duration'],
  ['Store path', 'wide-only col-path'],
  ['Reason', 'wide-only'],
];

export function ActivationPage({ id }: { id: string }) {
  const ws = useWorkspace();
  const view = useActivation(ws.name, id);
  const data = view.data;
  const state = data ? activationState(data) : null;

  const back = <Link href={uiPath(ws.name, 'deployments')}>← All deployments</Link>;
  if (!data || !state) {
    return (
      <main class="page">
        <PageHeader title={`Activation ${shortId(id)}`} sub={back} />
        {view.error ? <ErrorBox error={view.error} /> : <Loading what="the activation" />}
      </main>
    );
  }
  const info = data.activation;
  const rollout = info.rollout;
  return (
    <main class="page">
      <PageHeader
        pageTitle={`Activation ${shortId(id)} · ${state}`}
        title={
          <>
            Activation <span class="mono">{shortId(id)}</span>{' '}
            <span class={`badge activation-state state-${state}`} data-activation-state={state}>
              {state}
            </span>
          </>
        }
        sub={
          <>
            {back} · {data.deployments.length} {data.deployments.length === 1 ? 'agent' : 'agents'}
            {info.unchanged.length ? `, ${info.unchanged.length} unchanged` : ''}
          </>
        }
        actions={
          rollout && ws.canDeploy ? <RolloutControls workspace={ws.name} id={id} rollout={rollout} onChanged={(next) => view.setData(() => next)} /> : null
        }
      />
      <ErrorBox error={view.error} title="Could not refresh" />
      {rollout?.reason ? (
        <p class={`reason reason-${rollout.state === 'paused' ? 'pending' : 'failed'}`} data-testid="rollout-reason">
          {rollout.reason}
        </p>
      ) : null}
      <CountsLine counts={countByStatus(data.deployments)} testid="activation-counts" />
      <ActivationFacts workspace={ws.name} info={info} rollout={rollout} />
      {groupByWave(data).map((g) => (
        <WaveGroup key={g.index ?? 'all'} group={g} workspace={ws.name} rollout={rollout} />
      ))}
      {info.unchanged.length ? <Unchanged workspace={ws.name} names={info.unchanged} /> : null}
    </main>
  );
}

function CountsLine({ counts, testid }: { counts: Counts; testid?: string }) {
  return (
    <ul class="counts" data-testid={testid}>
      {counts.map(([status, n]) => (
        <li key={status} data-count={status}>
          <strong>{n}</strong> <StatusBadge status={status} />
        </li>
      ))}
    </ul>
  );
}

function ActivationFacts({ workspace, info, rollout }: { workspace: string; info: ActivationInfo; rollout: Rollout | null }) {
  const items: Fact[] = [
    ['Started by', <ActorLabel actor={info.createdBy} />],
    ['Created', <Time iso={info.createdAt} />],
    ...(info.selector ? ([['Selector', <code>{info.selector}</code>]] as Fact[]) : []),
    ...(rollout
      ? ([
          ['Waves', `${rollout.waves.length}${isLive(rollout) ? `, now wave ${Math.min(rollout.currentWave, rollout.waves.length - 1) + 1}` : ''}`],
          ['Max parallel', rollout.maxParallel === null ? 'no limit' : String(rollout.maxParallel)],
          ['Failures', `${rollout.failures} (at most ${rollout.maxFailures})`],
          ['Pause between waves', rollout.pause ? duration(EPOCH, new Date(rollout.pause).toISOString()) : 'none'],
          ['On failure', rollout.onFailure],
        ] as Fact[])
      : []),
    ...(rollout?.pauseUntil ? ([['Next wave', <Time iso={rollout.pauseUntil} />]] as Fact[]) : []),
    ...(rollout?.rollbackActivationId
      ? ([
          ['Rolled back by', <Link href={uiPath(workspace, 'activations', rollout.rollbackActivationId)}>{shortId(rollout.rollbackActivationId)}</Link>],
        ] as Fact[])
      : []),
  ];
  return <Facts items={items} />;
}

function WaveGroup({ group, workspace, rollout }: { group: Group; workspace: string; rollout: Rollout | null }) {
  const now = useNow(1000);
  const [all, setAll] = useState(false);
  const shown = all ? group.rows : group.rows.slice(0, ROWS_SHOWN);
  const current = rollout && isLive(rollout) && group.index !== null && rollout.currentWave === group.index;
  return (
    <section class="wave" data-wave={group.index ?? 'all'} aria-label={group.label}>
      <div class="wave-header">
        <h2>
          {group.index === null ? group.label : `Wave ${group.index + 1}: ${group.label}`}
          {group.state ? (
            <span class={`badge wave-state state-${group.state}`} data-wave-state={group.state}>
              {group.state}
            </span>
          ) : null}
          {current ? <span class="muted"> (current)</span> : null}
        </h2>
        <CountsLine counts={countByStatus(group.rows)} />
      </div>
      {group.rows.length === 0 ? (
        <p class="empty-inline">No agents in this wave.</p>
      ) : (
        <div class="table-wrap">
          <table class="table activation-table" data-testid="activation-table">
            <thead>
              <tr>
                {COLUMNS.map(([label, cls]) => (
                  <th key={label} scope="col" class={cls}>
                    {label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((d) => (
                <tr key={d.id} data-agent={d.agent} data-deployment={d.id}>
                  <th scope="row">
                    <Link href={uiPath(workspace, 'agents', d.agent)}>{d.agent}</Link>
                  </th>
                  <td>
                    <StatusBadge status={d.status} />
                  </td>
                  <td>
                    <Link href={uiPath(workspace, 'deployments', d.id)}>#{d.index}</Link>
                  </td>
                  <td class="num wide-only">{duration(d.startedAt, d.finishedAt, now)}</td>
                  <td class="wide-only mono truncate" title={d.storePath}>
                    {shortStorePath(d.storePath)}
                  </td>
                  <td class="wide-only truncate" title={d.reason ?? undefined}>
                    {d.reason ?? <span class="muted">—</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {shown.length < group.rows.length ? (
        <button type="button" class="button small quiet" onClick={() => setAll(true)}>
          Show all {group.rows.length}
        </button>
      ) : null}
    </section>
  );
}

function Unchanged({ workspace, names }: { workspace: string; names: string[] }) {
  return (
    <section class="wave" data-testid="unchanged" aria-label="Unchanged">
      <div class="wave-header">
        <h2>Unchanged ({names.length})</h2>
        <span class="muted">already on the requested path: no deployment</span>
      </div>
      <ul class="unchanged-list">
        {names.map((n) => (
          <li key={n} data-agent={n}>
            <Link href={uiPath(workspace, 'agents', n)}>{n}</Link>
          </li>
        ))}
      </ul>
    </section>
  );
}
