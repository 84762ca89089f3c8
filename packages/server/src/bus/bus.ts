/**
 * The event bus between server replicas.
 *
 * All state lives in the database; the bus says what happened, by id: these
 * deployments were created for these agents (superseding those), a log grew,
 * a token was revoked, a session ended, cached narinfos went away.
 * One process with SQLite uses the in-process bus; replicas sharing
 * PostgreSQL use LISTEN/NOTIFY (postgres-bus.ts). A subscriber must be able
 * to recover from a missed event by re-reading the database (`resync`).
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

const Ids = Type.Array(Type.String());

/** One deployment a 'deploy' event announces. */
const NewDeploymentEventSchema = Type.Object({ id: Type.String(), agentId: Type.String() });

/** Every bus event; payloads arriving from another process are checked against it (decodeBusEvent). */
const BusEventSchema = Type.Union([
  /**
   * New Pending deployments (id and agent each) and the older ones they superseded. A large activation is announced
   * whole instead (`activation`: every Pending deployment of it is new, `deployments` of them), not listed: one small
   * event that each replica answers with one read of its own agents' part, where a list of 100,000 pairs cost the
   * cluster's relay and every replica seconds to pass on and parse.
   */
  Type.Object({
    kind: Type.Literal('deploy'),
    deployments: Type.Array(NewDeploymentEventSchema),
    superseded: Ids,
    activation: Type.Optional(Type.Object({ id: Type.String(), deployments: Type.Integer({ minimum: 0 }) })),
  }),
  /** A deployment was cancelled (Pending ones already are, InProgress ones are asked to stop); tell the agent if it holds it. */
  Type.Object({ kind: Type.Literal('cancel'), agentId: Type.String(), deploymentId: Type.String() }),
  /** Log lines or status of these deployments changed. */
  Type.Object({ kind: Type.Literal('deployment-changed'), deploymentIds: Ids }),
  /** These agents (re)connected on some replica, gathered for a moment (a fleet reconnects at once); older connections of them must close. */
  Type.Object({
    kind: Type.Literal('agents-connected'),
    agents: Type.Array(Type.Object({ agentId: Type.String(), connectionId: Type.String(), hostname: Type.Optional(Type.String()) })),
  }),
  /** These agents connected or disconnected (batched); live views refresh them. */
  Type.Object({ kind: Type.Literal('agents-changed'), agentIds: Ids }),
  /** An admin decommissioned this agent; its connection must close. */
  Type.Object({ kind: Type.Literal('agent-removed'), agentId: Type.String() }),
  /** A token was revoked; connections that authenticated with it must close. */
  Type.Object({ kind: Type.Literal('token-revoked'), tokenId: Type.String() }),
  /** A web UI session ended (signed out); streams opened with it must close. */
  Type.Object({ kind: Type.Literal('session-ended'), sessionId: Type.String() }),
  /**
   * Binary cache narinfos were removed or replaced — these `storeHashes` of
   * cache `cacheId`, any of its narinfos when absent — or, without `cacheId`,
   * caches were deleted: in-memory copies must go (cache/memo.ts).
   */
  Type.Object({ kind: Type.Literal('cache-changed'), cacheId: Type.Optional(Type.String()), storeHashes: Type.Optional(Ids) }),
  /** Events may have been missed (bus reconnected): re-read state. */
  Type.Object({ kind: Type.Literal('resync') }),
]);
export type BusEvent = Static<typeof BusEventSchema>;

const busEventCheck = TypeCompiler.Compile(BusEventSchema);

/** A bus event from another process (a NOTIFY payload, an IPC message), or null when it is not one. */
export function decodeBusEvent(value: unknown): BusEvent | null {
  return busEventCheck.Check(value) ? value : null;
}

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

type AgentsConnected = Extract<BusEvent, { kind: 'agents-connected' }>;

/** An id's share of a notification, in characters: what `maxIds` ids take, an agents-connected part may take (hostnames vary in length). */
const CHARS_PER_ID = 40;

function splitConnected(event: AgentsConnected, maxIds: number): BusEvent[] {
  const budget = maxIds * CHARS_PER_ID;
  const parts: AgentsConnected[] = [];
  let part: AgentsConnected['agents'][number][] = [];
  let size = 0;
  for (const agent of event.agents) {
    const cost = JSON.stringify(agent).length + 1;
    if (part.length > 0 && size + cost > budget) {
      parts.push({ kind: 'agents-connected', agents: part });
      part = [];
      size = 0;
    }
    part.push(agent);
    size += cost;
  }
  if (part.length > 0 || parts.length === 0) parts.push({ kind: 'agents-connected', agents: part });
  return parts;
}

/** Splits events whose id lists would not fit one notification. */
export function splitEvent(event: BusEvent, maxIds: number): BusEvent[] {
  if (event.kind === 'deploy' && 2 * event.deployments.length + event.superseded.length > maxIds) {
    // A deployment costs two ids (its own and its agent's).
    const per = Math.max(1, Math.floor(maxIds / 2));
    const parts: BusEvent[] = event.activation ? [{ kind: 'deploy', deployments: [], superseded: [], activation: event.activation }] : [];
    for (let i = 0; i < event.deployments.length; i += per) parts.push({ kind: 'deploy', deployments: event.deployments.slice(i, i + per), superseded: [] });
    for (let i = 0; i < event.superseded.length; i += maxIds)
      parts.push({ kind: 'deploy', deployments: [], superseded: event.superseded.slice(i, i + maxIds) });
    return parts;
  }
  if (event.kind === 'agents-connected') return splitConnected(event, maxIds);
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
  if (event.kind === 'cache-changed' && event.storeHashes && event.storeHashes.length > maxIds) {
    const parts: BusEvent[] = [];
    for (let i = 0; i < event.storeHashes.length; i += maxIds) parts.push({ ...event, storeHashes: event.storeHashes.slice(i, i + maxIds) });
    return parts;
  }
  return [event];
}
