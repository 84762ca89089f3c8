/**
 * The workspace a /w/:ws/… page belongs to: its name, the user's role there
 * (what to show), and one live event stream of agent and deployment changes
 * that every page on screen subscribes to.
 */
import { createContext, type ComponentChildren } from 'preact';
import { useContext, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { messageData, openEventStream } from '@drover/client';
import { client, wsPath } from './api/client.js';
import { decodeAgentsEvent, decodeDeploymentsEvent, roleAllows, WORKSPACE_EVENTS, type Agent, type Deployment, type Role } from './api/protocol.js';

export type WorkspaceEvent = { type: 'agents'; agents: Agent[] } | { type: 'deployments'; deployments: Deployment[] } | { type: 'resync' };

/** connecting → live; `reconnecting` after a drop; `unavailable` when the server refused the stream. */
export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'unavailable';

export interface WorkspaceState {
  name: string;
  role: Role | null;
  canDeploy: boolean;
  canAdmin: boolean;
  live: LiveState;
  subscribe(listener: (event: WorkspaceEvent) => void): () => void;
}

const WorkspaceContext = createContext<WorkspaceState | null>(null);

export function useWorkspace(): WorkspaceState {
  const ws = useContext(WorkspaceContext);
  if (!ws) throw new Error('useWorkspace outside <WorkspaceProvider>');
  return ws;
}

/** Calls `handler` for every live event of the current workspace. */
export function useWorkspaceEvents(handler: (event: WorkspaceEvent) => void): void {
  const { subscribe } = useWorkspace();
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => subscribe((e) => latest.current(e)), [subscribe]);
}

export function WorkspaceProvider({ name, role, children }: { name: string; role: Role | null; children: ComponentChildren }) {
  const [live, setLive] = useState<LiveState>('connecting');
  const listeners = useMemo(() => new Set<(e: WorkspaceEvent) => void>(), [name]);

  useEffect(() => {
    setLive('connecting');
    const emit = (e: WorkspaceEvent) => listeners.forEach((l) => l(e));
    const stream = openEventStream(client, wsPath(name, '/events'), {
      onOpen: () => setLive('connecting'),
      onError: (_error, fatal) => setLive(fatal ? 'unavailable' : 'reconnecting'),
      onMessage: (m) => {
        if (m.event === WORKSPACE_EVENTS.ready) {
          // From here on every change arrives; what changed before it (while
          // the page loaded, or while the stream was down) is fetched again.
          setLive('live');
          emit({ type: 'resync' });
        } else if (m.event === WORKSPACE_EVENTS.agents) emit({ type: 'agents', agents: messageData(m, decodeAgentsEvent).agents });
        else if (m.event === WORKSPACE_EVENTS.deployments) emit({ type: 'deployments', deployments: messageData(m, decodeDeploymentsEvent).deployments });
        else if (m.event === WORKSPACE_EVENTS.resync) emit({ type: 'resync' });
      },
    });
    return () => stream.close();
  }, [name, listeners]);

  const state = useMemo<WorkspaceState>(
    () => ({
      name,
      role,
      canDeploy: roleAllows(role, 'deploy'),
      canAdmin: roleAllows(role, 'admin'),
      live,
      subscribe: (listener) => {
        listeners.add(listener);
        return () => void listeners.delete(listener);
      },
    }),
    [name, role, live, listeners],
  );
  return <WorkspaceContext.Provider value={state}>{children}</WorkspaceContext.Provider>;
}
