/**
 * One activation, kept current: its view from GET …/activations/:id, each
 * of its deployments patched in place from the workspace's live events, and
 * the whole view fetched again (coalesced) when one of them changed, so the
 * rollout's counts and state follow — and every few seconds while a rollout
 * is running or paused, since pausing changes no deployment.
 */
import { useEffect } from 'preact/hooks';
import { api, wsPath } from '../api/client.js';
import type { ActivationView } from '../api/protocol.js';
import { useWorkspaceEvents } from '../workspace.js';
import { useCoalesced } from './use-debounced.js';
import { useResource, type Resource } from './use-resource.js';

/** How often a live rollout's state is fetched again without any deployment changing. */
const ROLLOUT_POLL_MS = 5000;

export function activationPath(workspace: string, id: string, action = ''): string {
  return wsPath(workspace, `/activations/${encodeURIComponent(id)}${action}`);
}

export function useActivation(workspace: string, id: string): Resource<ActivationView> {
  const view = useResource((signal) => api.get<ActivationView>(activationPath(workspace, id), { signal }), [workspace, id]);
  const refetch = useCoalesced(view.reload, 500);

  useWorkspaceEvents((event) => {
    if (event.type === 'resync') return refetch();
    if (event.type !== 'deployments') return;
    const mine = new Map(event.deployments.filter((d) => d.activationId === id).map((d) => [d.id, d]));
    if (mine.size === 0) return;
    view.setData((prev) => prev && { ...prev, deployments: prev.deployments.map((d) => ({ ...d, ...mine.get(d.id) })) });
    refetch();
  });

  const rolloutState = view.data?.activation.rollout?.state;
  const live = rolloutState === 'running' || rolloutState === 'paused';
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(refetch, ROLLOUT_POLL_MS);
    return () => clearInterval(timer);
  }, [live, refetch]);
  return view;
}
