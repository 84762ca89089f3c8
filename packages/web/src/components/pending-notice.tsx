/** Why a Pending deployment waits: its agent is offline (and since when), or it is online and about to start it. */
import { api, wsPath } from '../api/client.js';
import type { Agent } from '../api/protocol.js';
import { useResource } from '../hooks/use-resource.js';
import { useWorkspace, useWorkspaceEvents } from '../workspace.js';
import { Time } from './time.js';

export function PendingNotice({ agentName }: { agentName: string }) {
  const ws = useWorkspace();
  const agent = useResource((signal) => api.get<Agent>(wsPath(ws.name, `/agents/${encodeURIComponent(agentName)}`), { signal }), [ws.name, agentName]);
  useWorkspaceEvents((event) => {
    const changed = event.type === 'agents' ? event.agents.find((a) => a.name === agentName) : undefined;
    if (changed) agent.setData(() => changed);
  });
  const a = agent.data;
  if (!a) return null;
  return (
    <p class="reason reason-pending" data-testid="pending-notice">
      {a.online ? (
        <>The agent {a.name} is online; it starts this deployment when the one before it is done.</>
      ) : a.lastSeenAt ? (
        <>
          The agent {a.name} is offline (last seen <Time iso={a.lastSeenAt} />
          ). It receives this deployment when it reconnects, unless a newer one supersedes it.
        </>
      ) : (
        <>The agent {a.name} has never connected. It receives this deployment when it first connects, unless a newer one supersedes it.</>
      )}
    </p>
  );
}
