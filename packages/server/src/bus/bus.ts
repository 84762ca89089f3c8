/**
 * The event bus between server replicas.
 *
 * All state lives in the database; the bus says what happened, by id: these
 * deployments were created for these agents (superseding those), a log grew,
 * a token was revoked.
 * One process with SQLite uses the in-process bus; replicas sharing
 * PostgreSQL use LISTEN/NOTIFY (postgres-bus.ts). A subscriber must be able
 * to recover from a missed event by re-reading the database (`resync`).
 */

/** One deployment a 'deploy' event announces. */
export interface NewDeploymentEvent {
  readonly id: string;
  readonly agentId: string;
}

export type BusEvent =
  /** New Pending deployments (id and agent each) and the older ones they superseded. */
  | { readonly kind: 'deploy'; readonly deployments: readonly NewDeploymentEvent[]; readonly superseded: readonly string[] }
  /** A deployment was cancelled (Pending ones already are, InProgress ones are asked to stop); tell the agent if it holds it. */
  | { readonly kind: 'cancel'; readonly agentId: string; readonly deploymentId: string }
  /** Log lines or status of these deployments changed. */
  | { readonly kind: 'deployment-changed'; readonly deploymentIds: readonly string[] }
  /** An agent (re)connected on some replica; older connections of it must close. */
  | { readonly kind: 'agent-connected'; readonly agentId: string; readonly connectionId: string }
  /** These agents connected or disconnected (batched); live views refresh them. */
  | { readonly kind: 'agents-changed'; readonly agentIds: readonly string[] }
  /** A token was revoked; connections that authenticated with it must close. */
  | { readonly kind: 'token-revoked'; readonly tokenId: string }
  /** Events may have been missed (bus reconnected): re-read state. */
  | { readonly kind: 'resync' };

export type BusListener = (event: BusEvent) => void;

export interface Bus {
  publish(event: BusEvent): Promise<void>;
  subscribe(listener: BusListener): () => void;
  close(): Promise<void>;
}

/** Fan-out to local listeners; shared by both bus implementations. */
export class Listeners {
  private readonly listeners = new Set<BusListener>();

  add(listener: BusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: BusEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

/** The bus of a single server process. */
export class LocalBus implements Bus {
  private readonly listeners = new Listeners();

  async publish(event: BusEvent): Promise<void> {
    queueMicrotask(() => this.listeners.emit(event));
  }

  subscribe(listener: BusListener): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {}
}

/** Splits events whose id lists would not fit one notification. */
export function splitEvent(event: BusEvent, maxIds: number): BusEvent[] {
  if (event.kind === 'deploy' && 2 * event.deployments.length + event.superseded.length > maxIds) {
    // A deployment costs two ids (its own and its agent's).
    const per = Math.max(1, Math.floor(maxIds / 2));
    const parts: BusEvent[] = [];
    for (let i = 0; i < event.deployments.length; i += per) parts.push({ kind: 'deploy', deployments: event.deployments.slice(i, i + per), superseded: [] });
    for (let i = 0; i < event.superseded.length; i += maxIds) parts.push({ kind: 'deploy', deployments: [], superseded: event.superseded.slice(i, i + maxIds) });
    return parts;
  }
  if (event.kind === 'agents-changed' && event.agentIds.length > maxIds) {
    const parts: BusEvent[] = [];
    for (let i = 0; i < event.agentIds.length; i += maxIds) parts.push({ kind: event.kind, agentIds: event.agentIds.slice(i, i + maxIds) });
    return parts;
  }
  if (event.kind === 'deployment-changed' && event.deploymentIds.length > maxIds) {
    const parts: BusEvent[] = [];
    for (let i = 0; i < event.deploymentIds.length; i += maxIds) {
      parts.push({ kind: 'deployment-changed', deploymentIds: event.deploymentIds.slice(i, i + maxIds) });
    }
    return parts;
  }
  return [event];
}
