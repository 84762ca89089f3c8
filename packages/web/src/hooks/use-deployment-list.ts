/**
 * One page of a workspace's deployments (newest first, optionally of one
 * agent, agents whose name contains a part, store paths containing a part, or a status), kept current by live events: changed rows are patched in
 * place, new ones that belong on the page trigger a refetch.
 */
import { api, wsPath } from '../api/client.js';
import type { Deployment, DeploymentList } from '../api/protocol.js';
import { useWorkspaceEvents } from '../workspace.js';
import { useCoalesced } from './use-debounced.js';
import { useResource, type Resource } from './use-resource.js';

export interface DeploymentFilter {
  /** Exactly this agent. */
  agent?: string | undefined;
  /** Agents whose name contains this (case-insensitive). */
  agentContains?: string | undefined;
  /** Store paths that contain this (case-insensitive). */
  path?: string | undefined;
  status?: string | undefined;
}

const contains = (value: string, part: string | undefined) => !part || value.toLowerCase().includes(part.toLowerCase());

/** A page of deployments with the offset it was fetched from (the pager labels what is shown, not what is loading). */
export type DeploymentPage = DeploymentList & { offset: number };

export function useDeploymentList(workspace: string, filter: DeploymentFilter, offset: number, limit: number): Resource<DeploymentPage> {
  const list = useResource(
    async (signal) => ({
      ...(await api.get<DeploymentList>(wsPath(workspace, '/deployments'), {
        query: { agent: filter.agent, agentContains: filter.agentContains, path: filter.path, status: filter.status, limit, offset },
        signal,
      })),
      offset,
    }),
    [workspace, filter.agent, filter.agentContains, filter.path, filter.status, offset, limit],
  );
  const refetch = useCoalesced(list.reload, 1000);
  const matches = (d: Deployment) =>
    (!filter.agent || d.agent === filter.agent) &&
    contains(d.agent, filter.agentContains) &&
    contains(d.storePath, filter.path) &&
    (!filter.status || d.status === filter.status);

  useWorkspaceEvents((event) => {
    if (event.type === 'resync') return refetch();
    if (event.type !== 'deployments' || !list.data) return;
    const shown = new Set(list.data.deployments.map((d) => d.id));
    const byId = new Map(event.deployments.map((d) => [d.id, d]));
    list.setData((prev) => prev && { ...prev, deployments: prev.deployments.map((d) => byId.get(d.id) ?? d) });
    const arrived = event.deployments.some((d) => !shown.has(d.id) && matches(d));
    const left = !!filter.status && event.deployments.some((d) => shown.has(d.id) && !matches(d));
    if (arrived || left) refetch();
  });
  return list;
}
