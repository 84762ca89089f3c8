/**
 * The fleet overview at the top of a workspace's agents page: its agents
 * counted by presence and by their latest deployment (`GET …/fleet`, one
 * aggregate query on the server), each count a link that filters the list
 * below by that status. Refreshed (coalesced) when agents or deployments change.
 */
import { api, wsPath } from '../api/client.js';
import type { Fleet } from '../api/protocol.js';
import { count } from '../format.js';
import { useCoalesced } from '../hooks/use-debounced.js';
import { useResource } from '../hooks/use-resource.js';
import { Link, uiPath } from '../router.js';
import { useWorkspace, useWorkspaceEvents } from '../workspace.js';

const TILES: readonly { key: keyof Fleet; label: string; status: string; hint: string }[] = [
  { key: 'total', label: 'Agents', status: '', hint: 'every agent of the workspace' },
  { key: 'online', label: 'Online', status: 'online', hint: 'connected now' },
  { key: 'offline', label: 'Offline', status: 'offline', hint: 'not connected' },
  { key: 'succeeded', label: 'Succeeded', status: 'succeeded', hint: 'latest deployment Succeeded' },
  { key: 'failed', label: 'Failed', status: 'failed', hint: 'latest deployment Failed' },
  { key: 'pending', label: 'Pending', status: 'pending', hint: 'latest deployment not started yet' },
  { key: 'inProgress', label: 'In progress', status: 'inprogress', hint: 'latest deployment running' },
  { key: 'behind', label: 'Behind', status: 'behind', hint: "the latest deployment's path is not what the agent runs (not there yet, or rolled back)" },
];

export function FleetOverview({ active }: { active: string }) {
  const ws = useWorkspace();
  const fleet = useResource((signal) => api.get<Fleet>(wsPath(ws.name, '/fleet'), { signal }), [ws.name]);
  const refetch = useCoalesced(fleet.reload, 2000);
  useWorkspaceEvents(() => refetch());
  const data = fleet.data;
  if (!data) return null;
  return (
    <nav class="fleet" aria-label="Fleet overview" data-testid="fleet-overview">
      {TILES.map((t) => (
        <Link
          key={t.key}
          href={`${uiPath(ws.name, 'agents')}${t.status ? `?status=${t.status}` : ''}`}
          class={`fleet-tile fleet-${t.key}${active === t.status ? ' active' : ''}${data[t.key] > 0 ? '' : ' zero'}`}
          title={t.hint}
          data-fleet={t.key}
          aria-current={active === t.status ? 'page' : undefined}
        >
          <span class="fleet-count">{count(data[t.key])}</span>
          <span class="fleet-label">{t.label}</span>
        </Link>
      ))}
    </nav>
  );
}
