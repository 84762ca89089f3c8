/** A table of deployments: which agent, status, who started it, when, how long, how big. */
import type { Actor, Deployment } from '../api/protocol.js';
import { bytes, duration, shortId, shortStorePath } from '../format.js';
import { useNow } from '../hooks/use-now.js';
import { Link, uiPath } from '../router.js';
import { StatusBadge } from './status-badge.js';
import { Time } from './time.js';

export function ActorLabel({ actor }: { actor: Actor | null }) {
  if (!actor) return <span class="muted">—</span>;
  return (
    <span class={`actor actor-${actor.kind}`} title={actor.kind === 'token' ? `token ${actor.id}` : `user ${actor.id}`}>
      {actor.kind === 'token' ? <span class="actor-kind">token</span> : null}
      {actor.label}
    </span>
  );
}

export function DeploymentsTable({
  deployments,
  workspace,
  showAgent = true,
  busy = false,
}: {
  deployments: Deployment[];
  workspace: string;
  showAgent?: boolean;
  busy?: boolean;
}) {
  const now = useNow(1000);
  return (
    <div class="table-wrap" aria-busy={busy}>
      <table class="table" data-testid="deployments-table">
        <thead>
          <tr>
            <th scope="col">Deployment</th>
            {showAgent ? <th scope="col">Agent</th> : null}
            <th scope="col">Status</th>
            <th scope="col" class="wide-only">
              Started by
            </th>
            <th scope="col">Created</th>
            <th scope="col" class="num wide-only">
              Duration
            </th>
            <th scope="col" class="num wide-only">
              Closure
            </th>
            <th scope="col" class="wide-only">
              Store path
            </th>
          </tr>
        </thead>
        <tbody>
          {deployments.map((d) => (
            <tr key={d.id} data-deployment={d.id}>
              <th scope="row">
                <Link href={uiPath(workspace, 'deployments', d.id)}>
                  #{d.index} <span class="muted mono wide-only">{shortId(d.id)}</span>
                </Link>
                {d.dry ? <span class="dry-tag">dry run</span> : null}
                {d.secretsOnly ? <span class="dry-tag">secrets only</span> : null}
              </th>
              {showAgent ? (
                <td>
                  <Link href={uiPath(workspace, 'agents', d.agent)}>{d.agent}</Link>
                </td>
              ) : null}
              <td>
                <StatusBadge status={d.status} />
              </td>
              <td class="wide-only">
                <ActorLabel actor={d.createdBy} />
              </td>
              <td>
                <Time iso={d.createdAt} />
              </td>
              <td class="num wide-only">{duration(d.startedAt, d.finishedAt, now)}</td>
              <td class="num wide-only">{bytes(d.closureSize)}</td>
              <td class="wide-only mono truncate" title={d.storePath}>
                {shortStorePath(d.storePath)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
