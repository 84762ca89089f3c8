/**
 * The agent hub: every agent websocket held by this replica.
 *
 * It authenticates nothing itself (the HTTP upgrade already verified the
 * token), validates every frame, turns agent events into guarded database
 * transitions, and pushes work to agents when the bus says there is some.
 * Idle agents cost no database work: one shared timer pings all sockets and
 * pongs only mark agents as seen in memory; `last_seen_at` is flushed in
 * batches.
 *
 * Deployments are delivered from the bus's 'deploy' event, read back from
 * the database by id (still Pending, newest per agent), or for an activation
 * announced whole by its id and this replica's agents — except on the
 * replica that created them: it sends them from the rows it just inserted
 * (`deliverFresh`) and its copy of the event skips them, so a fan-out costs
 * no read here. A fresh order is not sent to an agent that was already sent
 * a newer order of the same kind (a later activation that got here first),
 * as reading it back would have found it Superseded.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { WebSocket } from '@fastify/websocket';
import type { RawData } from 'ws';
import {
  CLOSE_CODES,
  decodeAgentMessage,
  encodeMessage,
  MAX_FRAME_BYTES,
  parseAgentName,
  PROTOCOL_VERSION,
  type AgentMessage,
  type CacheConfig,
  type DeploymentOrder,
  type HelloMessage,
  type ServerMessage,
} from '@drover/protocol';
import { claimAgentName, liveTokenIds, type Principal } from '../auth/tokens.js';
import type { Bus, BusEvent } from '../bus/bus.js';
import type { Database, DeploymentRow } from '../db/schema.js';
import {
  markDisconnected,
  markReplicaDisconnected,
  registerAgents,
  setAgentProblems,
  touchLastSeen,
  type ClosedConnection,
  type Registration,
  type RegistrationOutcome,
} from '../agents/repository.js';
import { recordAgentDiff } from '../deployments/diffs-repository.js';
import {
  appendLog,
  deploymentStatus,
  markFinished,
  markStarted,
  newestPendingOrders,
  orderOf,
  pendingOrders,
  pendingOrdersOfActivation,
  resolveRollbackScriptsOf,
  setClosureSize,
  setWouldRestart,
  type PendingOrder,
} from '../deployments/repository.js';
import { agentCaches, RecentAgentCaches } from '../cache/agents.js';
import { secretOrdersFor } from '../secrets/repository.js';
import { DeployFrames, deployMessage, type OrderWithoutCache } from '../deployments/order-frames.js';
import { isConnectionLost } from '../db/connect.js';
import { refusedValue } from '../db/refused-value.js';
import { repairFrame } from './repair-frame.js';
import { ConnectionLog } from './connection-log.js';
import { Batched } from '../db/batched-read.js';
import type { Metrics } from '../metrics.js';

/**
 * How long an agent's socket may stay open without its hello (then closed 4408). Only a holder of a valid agent token
 * gets this far, and the real agent sends its hello as soon as the socket opens; the time allows for a reconnect
 * storm, when the hellos of thousands of agents wait in both sides' queues: at 15 s, 6,439 of 100,000 agents
 * reconnecting to `--workers 6` were closed with their hello on its way and came back later (bench/README.md,
 * fifteenth pass).
 */
export const HELLO_TIMEOUT_MS = 60_000;

export interface HubOptions {
  readonly db: Kysely<Database>;
  readonly metrics: Metrics;
  readonly bus: Bus;
  readonly log: Logger;
  readonly replicaId: string;
  readonly pingIntervalMs: number;
  readonly lastSeenFlushMs: number;
  /** How long an upgraded socket may stay silent before its hello (`HELLO_TIMEOUT_MS`). */
  readonly helloTimeoutMs: number;
  /** Agent sockets this replica holds at most (http/connection-limits.ts `agentSocketCap`); null: no limit. */
  readonly maxSockets: number | null;
  /** With `--workers N`: whether this worker holds no more than its share of the agents (cluster-share.ts). */
  readonly share?: { admits(): boolean } | undefined;
  /** The most log text one deployment stores (DROVER_MAX_LOG_BYTES). */
  readonly maxLogBytes: number;
}

/** Most frames waiting to be processed for one agent before it is cut off. */
const MAX_QUEUED_FRAMES = 512;
/**
 * Hellos registered together, and closed connections recorded together: those of the next 2 ms, at most 200 (one
 * statement's worth; db/batched-read.ts), one batch at a time — those that come while one is written go in the next.
 */
const CONNECTION_WRITES = { windowMs: 2, maxKeys: 200, serial: true };

type ConnectedAgent = Extract<BusEvent, { kind: 'agents-connected' }>['agents'][number];

/** How often connects and disconnects are announced to live views, batched. */
const CHANGED_FLUSH_MS = 300;
/** How long a deployment sent by `deliverFresh` waits for its own 'deploy' event to skip it (the bus brings it back at once). */
const FRESH_KEPT_MS = 60_000;

/** What `sentFresh` keeps for an activation announced whole (deployment ids are kept as they are). */
function freshActivationKey(activationId: string): string {
  return `activation:${activationId}`;
}

type DeployEvent = Extract<BusEvent, { kind: 'deploy' }>;

/** Close reasons are limited to 123 bytes of UTF-8; cut whole characters only. */
function closeReason(reason: string): string {
  let out = '';
  let bytes = 0;
  for (const ch of reason) {
    bytes += Buffer.byteLength(ch);
    if (bytes > 123) break;
    out += ch;
  }
  return out;
}

/** The 4409 close reason: it names the host of the connection that took over (the replaced agent logs it). */
function replacedReason(hostname: string | undefined): string {
  return hostname === undefined ? 'replaced by a newer connection of the same agent' : `replaced by a newer connection of the same agent from host ${hostname}`;
}

/**
 * How a connection speaks when it is not Drover's own protocol (the Cachix
 * Deploy agent, see cachix/): its hello comes from the upgrade request, it
 * sends no frames of its own, and every server message is re-encoded in its
 * terms or dropped (null) when it has no such message.
 */
export interface AgentDialect {
  readonly hello: HelloMessage;
  encode(message: ServerMessage): string | null;
}

class AgentConnection {
  readonly connectionId = randomUUID();
  agentId: string | null = null;
  agentName: string | null = null;
  alive = true;
  queued = 0;
  /** Frames are handled strictly in order, one at a time. */
  chain: Promise<void> = Promise.resolve();
  helloTimer: NodeJS.Timeout | undefined;
  /** The agent's system, from its hello (what a rollbackScript kept by system is chosen by). */
  system: string | null = null;
  /** The highest index of an order sent on this connection, real deployments and dry runs apart (each kind supersedes only its own). */
  readonly sentIndex = { real: 0, dry: 0 };

  constructor(
    readonly socket: WebSocket,
    readonly principal: Principal,
    readonly dialect: AgentDialect | null,
  ) {}

  send(message: ServerMessage): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    const text = this.dialect ? this.dialect.encode(message) : encodeMessage(message);
    if (text !== null) this.socket.send(text);
  }

  /** Sends an order and remembers its index; `frames` encodes it (shared by the orders of one batch). */
  sendOrder(order: OrderWithoutCache, cache: CacheConfig | null, secrets: DeploymentOrder['secrets'], frames: DeployFrames): void {
    const kind = order.dry ? 'dry' : 'real';
    this.sentIndex[kind] = Math.max(this.sentIndex[kind], order.index);
    if (this.dialect) this.send(deployMessage(order, cache, secrets));
    else if (this.socket.readyState === this.socket.OPEN) this.socket.send(frames.encode(order, cache, secrets));
  }

  close(code: number, reason: string): void {
    this.socket.close(code, closeReason(reason));
  }
}

/** A text frame's characters: ws hands over a Buffer, or an ArrayBuffer or fragments under other `binaryType`s. */
function frameText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

export class AgentHub {
  private readonly byAgent = new Map<string, AgentConnection>();
  private readonly all = new Set<AgentConnection>();
  private readonly seen = new Set<string>();
  /** Deployments `deliverFresh` sent, until their 'deploy' event arrives here too (id → when sent). */
  private readonly sentFresh = new Map<string, number>();
  /** Agents that connected or disconnected since the last announcement. */
  private changed = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unsubscribe: () => void;
  private readonly log: Logger;
  /** `agent connected` / `agent disconnected`, summarised when a fleet comes back at once. */
  private readonly connectionLog: ConnectionLog;
  /** What a `hello` writes and reads, one transaction or statement for the hellos that arrived together (db/batched-read.ts). */
  private readonly helloReads: {
    readonly register: Batched<Registration, RegistrationOutcome>;
    readonly rollbackScripts: Batched<{ agentId: string; system: string }, true>;
    readonly cache: Batched<string, CacheConfig | null>;
    readonly newest: Batched<string, PendingOrder>;
    /** Announces agents that were connected elsewhere, one event for those registered together (a NOTIFY each cost PostgreSQL a commit). */
    readonly connected: Batched<ConnectedAgent, true>;
  };
  /** Records closed connections, one statement for those that closed together (a fleet cut off at once). */
  private readonly disconnects: Batched<ClosedConnection, true>;

  constructor(private readonly opts: HubOptions) {
    this.log = opts.log.child({ component: 'hub' });
    this.connectionLog = new ConnectionLog(this.log);
    const recentCaches = new RecentAgentCaches(opts.db);
    this.helloReads = {
      register: new Batched((inputs) => registerAgents(opts.db, inputs), CONNECTION_WRITES),
      rollbackScripts: new Batched(async (agents) => {
        await resolveRollbackScriptsOf(opts.db, agents);
        return new Map(agents.map((a) => [a, true]));
      }),
      // Read at most once a second per workspace (the agent only logs it; every order reads it fresh).
      cache: new Batched((workspaceIds) => recentCaches.of(workspaceIds)),
      newest: new Batched((agentIds) => newestPendingOrders(opts.db, agentIds)),
      // The hellos of one registration batch go on in the same turn: one event for them all.
      connected: new Batched(async (agents) => {
        await opts.bus.publish({ kind: 'agents-connected', agents: [...agents] });
        return new Map(agents.map((a) => [a, true]));
      }),
    };
    this.disconnects = new Batched(async (closed) => {
      await markDisconnected(opts.db, closed);
      return new Map(closed.map((c) => [c, true]));
    }, CONNECTION_WRITES);
    this.unsubscribe = opts.bus.subscribe((event) => this.onBusEvent(event));
    this.timers.push(setInterval(() => this.pingAll(), opts.pingIntervalMs).unref());
    this.timers.push(setInterval(() => void this.flushLastSeen(), opts.lastSeenFlushMs).unref());
    this.timers.push(setInterval(() => void this.announceChanged(), CHANGED_FLUSH_MS).unref());
    this.timers.push(setInterval(() => this.forgetFresh(Date.now() - FRESH_KEPT_MS), FRESH_KEPT_MS).unref());
  }

  /** Drops what `deliverFresh` remembered before `before` (its event was lost: a bus that failed to publish). */
  private forgetFresh(before: number): void {
    for (const [id, at] of this.sentFresh) if (at < before) this.sentFresh.delete(id);
  }

  /** One bus event for all agents that came or went in the last moment, not one per agent. */
  private async announceChanged(): Promise<void> {
    if (this.changed.size === 0) return;
    const agentIds = [...this.changed];
    this.changed = new Set();
    await this.opts.bus.publish({ kind: 'agents-changed', agentIds }).catch((err: unknown) => this.log.warn({ err }, 'could not announce agent changes'));
  }

  /** The most log text one deployment stores: the same limit for every socket that uploads logs (cachix/). */
  get maxLogBytes(): number {
    return this.opts.maxLogBytes;
  }

  /** Agents connected to this replica. */
  get size(): number {
    return this.byAgent.size;
  }

  /**
   * Why this replica takes no more agent sockets now, or null when it takes one. 'full': it holds `maxSockets`, so
   * the agent is told to come back soon, most likely to a less loaded worker, instead of this process running out
   * of files; 'uneven': with `--workers N`, it holds more than its share (cluster-share.ts). Either way the upgrade
   * is refused with 503 and a Retry-After (http/routes/agent-admission.ts).
   */
  refusal(): 'full' | 'uneven' | null {
    if (this.opts.maxSockets !== null && this.all.size >= this.opts.maxSockets) return 'full';
    return this.opts.share && !this.opts.share.admits() ? 'uneven' : null;
  }

  /** Agent sockets open on this replica, registered or not yet. */
  get sockets(): number {
    return this.all.size;
  }

  /** Takes over a freshly upgraded socket whose token was verified; a `dialect` connection is registered at once with its hello. */
  accept(socket: WebSocket, principal: Principal, dialect: AgentDialect | null = null): void {
    const conn = new AgentConnection(socket, principal, dialect);
    this.all.add(conn);
    if (dialect) {
      const hello = repairFrame(dialect.hello);
      conn.chain = this.onHello(conn, hello as HelloMessage).catch((err: unknown) => this.onFrameFailed(conn, 'hello', err));
    } else {
      conn.helloTimer = setTimeout(() => conn.close(CLOSE_CODES.helloTimeout, 'no hello message within the time limit'), this.opts.helloTimeoutMs);
    }
    socket.on('pong', () => {
      conn.alive = true;
      if (conn.agentId) this.seen.add(conn.agentId);
    });
    socket.on('message', (data, isBinary) => {
      // A dialect's agent sends no frames on this socket; anything it does send means nothing here.
      if (conn.dialect) return;
      if (isBinary) {
        conn.close(CLOSE_CODES.badFrame, 'binary frames are not part of the protocol; send JSON text');
        return;
      }
      if (++conn.queued > MAX_QUEUED_FRAMES) {
        conn.close(CLOSE_CODES.badFrame, 'too many frames in flight; slow down');
        return;
      }
      const text = frameText(data);
      conn.chain = conn.chain
        .then(() => this.onFrame(conn, text))
        .catch((err: unknown) => {
          // Nothing may escape the chain: one agent must never take the server down.
          this.log.error({ err, agent: conn.agentName }, 'unexpected failure handling an agent frame');
          conn.socket.terminate();
        })
        .finally(() => {
          conn.queued--;
        });
    });
    socket.on('close', () => void this.onClose(conn));
    socket.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.log.warn({ agent: conn.agentName, limit: MAX_FRAME_BYTES }, 'agent sent a frame larger than the limit; connection closed (1009)');
      } else {
        this.log.debug({ err: err.message, agent: conn.agentName }, 'agent socket error');
      }
    });
  }

  private async onFrame(conn: AgentConnection, text: string): Promise<void> {
    if (conn.socket.readyState !== conn.socket.OPEN) return;
    const decoded = decodeAgentMessage(text);
    if (!decoded.ok) {
      this.opts.metrics.agentBadFrames.inc();
      this.log.warn({ agent: conn.agentName, error: decoded.error }, 'closing agent connection: bad frame');
      conn.close(CLOSE_CODES.badFrame, decoded.error);
      return;
    }
    const message = repairFrame(decoded.message);
    this.opts.metrics.agentFrames.inc({ type: message.type });
    try {
      if (message.type === 'hello') {
        await this.onHello(conn, message);
        return;
      }
      if (!conn.agentId) {
        conn.close(CLOSE_CODES.badFrame, `expected "hello" first, got "${message.type}"`);
        return;
      }
      this.seen.add(conn.agentId);
      await this.onEvent(conn, conn.agentId, message);
    } catch (err) {
      this.onFrameFailed(conn, message.type, err);
    }
  }

  /**
   * A frame the database refused fails the same way on every replay: 4400
   * naming the problem. A lost database connection (or any other failure) is
   * transient: 1011, and the agent replays the frame once reconnected.
   */
  private onFrameFailed(conn: AgentConnection, type: AgentMessage['type'], err: unknown): void {
    const refused = refusedValue(err);
    if (refused !== null) {
      this.opts.metrics.agentBadFrames.inc();
      this.log.warn({ agent: conn.agentName, type, refused }, 'closing agent connection: the database refused a value of the frame');
      conn.close(CLOSE_CODES.badFrame, `the server cannot store this "${type}" frame: ${refused}`);
      return;
    }
    if (isConnectionLost(err)) {
      this.log.warn(
        { err: err instanceof Error ? err.message : String(err), agent: conn.agentName, type },
        'database connection lost while handling an agent message; closing so the agent replays it',
      );
    } else {
      this.log.error({ err, agent: conn.agentName, type }, 'failed to handle agent message; closing so the agent replays it');
    }
    conn.close(1011, 'server error while handling a message; reconnect and replay');
  }

  private async onHello(conn: AgentConnection, hello: HelloMessage): Promise<void> {
    if (conn.agentId) {
      conn.close(CLOSE_CODES.badFrame, 'hello sent twice');
      return;
    }
    clearTimeout(conn.helloTimer);
    if (hello.protocol !== PROTOCOL_VERSION) {
      conn.close(CLOSE_CODES.protocolVersion, `server speaks protocol ${PROTOCOL_VERSION}, agent sent ${hello.protocol}; upgrade the older side`);
      return;
    }
    // A --unbound token's first connection claims its name (auth/tokens.ts); later ones are held to it.
    const bound = conn.principal.claimsAgent
      ? await claimAgentName(this.opts.db, conn.principal.tokenId, parseAgentName(hello.agent))
      : conn.principal.agentName;
    if (conn.principal.claimsAgent && bound === hello.agent)
      this.log.info({ token: conn.principal.tokenId, agent: hello.agent }, 'unbound agent token claimed its agent name');
    if (bound && bound !== hello.agent) {
      this.log.warn({ token: conn.principal.tokenId, agent: hello.agent, bound }, 'agent token used for another agent name');
      conn.close(CLOSE_CODES.forbidden, `this token is bound to agent "${bound}", not "${hello.agent}"`);
      return;
    }
    const registered = await this.helloReads.register.load({
      workspaceId: conn.principal.workspaceId,
      hello,
      connectionId: conn.connectionId,
      replicaId: this.opts.replicaId,
    });
    if (!registered) throw new Error('registration returned no outcome');
    if ('error' in registered) throw registered.error;
    const { row, connectedElsewhere, replacedHost } = registered.ok;
    if (conn.socket.readyState !== conn.socket.OPEN) {
      await this.disconnects.load({ agentId: row.id, connectionId: conn.connectionId });
      return;
    }
    const previous = this.byAgent.get(row.id);
    if (previous && previous !== conn) previous.close(CLOSE_CODES.replaced, replacedReason(hello.hostname));
    if (replacedHost !== null && replacedHost !== hello.hostname) {
      this.log.warn(
        { agent: row.name, replaced: replacedHost, hostname: hello.hostname },
        'two agents use one name: the newer connection replaced the one from another host',
      );
    }
    conn.agentId = row.id;
    conn.agentName = row.name;
    conn.system = hello.system;
    this.byAgent.set(row.id, conn);
    if (connectedElsewhere) await this.helloReads.connected.load({ agentId: row.id, connectionId: conn.connectionId, hostname: hello.hostname });
    // Deployments queued before the agent ever said which system it runs now get their rollbackScript. (Those queued
    // once its system was known were given theirs; a row still unresolved is resolved again when read, orderOf.) An
    // agent this hello created has none.
    if (registered.ok.systemBefore === null && !registered.ok.created) await this.helloReads.rollbackScripts.load({ agentId: row.id, system: hello.system });
    const workspaceId = conn.principal.workspaceId;
    conn.send({
      type: 'registered',
      agentId: row.id,
      workspace: conn.principal.workspaceName,
      cache: (await this.helloReads.cache.load(workspaceId)) ?? null,
      pingIntervalMs: this.opts.pingIntervalMs,
    });
    this.opts.metrics.agentConnections.inc();
    this.changed.add(row.id);
    this.connectionLog.connected({ agent: row.name, workspace: conn.principal.workspaceName, version: hello.version });
    // Its newest Pending deployment, as deliverNewest reads it.
    if (this.byAgent.has(row.id)) {
      const newest = await this.helloReads.newest.load(row.id);
      if (newest) await this.send(new Map([[row.id, newest]]));
    }
  }

  private async onEvent(conn: AgentConnection, agentId: string, message: Exclude<AgentMessage, HelloMessage>): Promise<void> {
    const { db, bus } = this.opts;
    switch (message.type) {
      case 'agent.problems':
        await setAgentProblems(db, agentId, message.problems);
        this.changed.add(agentId);
        this.log.info({ agent: conn.agentName, problems: message.problems }, 'agent self-checks changed');
        return;
      case 'deployment.started': {
        const started = await markStarted(db, agentId, message.id, message.time);
        if (!started) await this.cancelIfClosed(conn, message.id);
        break;
      }
      case 'deployment.closure-size':
        await setClosureSize(db, agentId, message.id, message.closureSize);
        break;
      case 'deployment.diff':
        if (!(await recordAgentDiff(db, agentId, message.id, message.diff))) return;
        break;
      case 'deployment.would-restart':
        await setWouldRestart(db, agentId, message.id, message.wouldRestart);
        break;
      case 'deployment.log':
        if (!(await appendLog(db, agentId, message.id, message.lines, this.opts.maxLogBytes))) {
          this.log.warn({ agent: conn.agentName, deployment: message.id }, 'log for a deployment of another agent ignored');
          return;
        }
        break;
      case 'deployment.finished':
        switch (await markFinished(db, agentId, message)) {
          case 'replaced-operator-end':
            this.log.warn(
              { agent: conn.agentName, deployment: message.id, status: message.status },
              "the agent reported a deployment an operator had ended; its report replaces the operator's Failed",
            );
            this.opts.metrics.finished(message.status);
            break;
          case 'recorded':
            this.opts.metrics.finished(message.status);
            break;
          case null:
            break;
        }
        conn.send({ type: 'deployment.ack', id: message.id });
        this.log.info({ agent: conn.agentName, deployment: message.id, status: message.status }, 'deployment finished');
        await bus.publish({ kind: 'deployment-changed', deploymentIds: [message.id] });
        await this.deliverNewest([agentId]);
        return;
    }
    await bus.publish({ kind: 'deployment-changed', deploymentIds: [message.id] });
  }

  /** An agent started something that is no longer wanted: tell it to stop if it still can. */
  private async cancelIfClosed(conn: AgentConnection, id: string): Promise<void> {
    const status = conn.agentId ? await deploymentStatus(this.opts.db, conn.agentId, id) : undefined;
    if (status === 'Cancelled' || status === 'Superseded') conn.send({ type: 'deployment.cancel', id, reason: `deployment is ${status}` });
  }

  /** Sends each of these agents (those connected here) its newest Pending deployment: on hello, after an outcome, on resync. */
  async deliverNewest(agentIds: readonly string[]): Promise<void> {
    const local = agentIds.filter((id) => this.byAgent.has(id));
    if (local.length > 0) await this.send(await newestPendingOrders(this.opts.db, local));
  }

  /** Sends the deployments a 'deploy' event announced to those of their agents connected here (but not what `deliverFresh` sent). */
  private async deliverCreated(event: DeployEvent): Promise<void> {
    const local: string[] = [];
    for (const d of event.deployments) {
      if (this.sentFresh.delete(d.id)) continue;
      if (this.byAgent.has(d.agentId)) local.push(d.id);
    }
    if (local.length > 0) await this.send(await pendingOrders(this.opts.db, local));
    // An activation announced whole: this replica's agents' part of it, unless this replica created it.
    const whole = event.activation;
    if (whole && !this.sentFresh.delete(freshActivationKey(whole.id)) && this.byAgent.size > 0)
      await this.send(await pendingOrdersOfActivation(this.opts.db, whole.id, this.byAgent, whole.deployments));
  }

  /**
   * Sends deployments this replica just inserted (Pending, one per agent, committed, their server diffs recorded:
   * `diffed`) to those of their agents connected here, from the rows in hand. Call it before publishing their
   * 'deploy' event: it marks them at once, so that event skips them here.
   */
  async deliverFresh(rows: readonly DeploymentRow[], diffed: ReadonlySet<string>, announcedWhole?: string): Promise<void> {
    const orders = new Map<string, PendingOrder>();
    const now = Date.now();
    if (announcedWhole !== undefined) this.sentFresh.set(freshActivationKey(announcedWhole), now);
    for (const row of rows) {
      const conn = this.byAgent.get(row.agent_id);
      if (!conn || row.status !== 'Pending') continue;
      if (announcedWhole === undefined) this.sentFresh.set(row.id, now);
      orders.set(row.agent_id, { agentId: row.agent_id, workspaceId: row.workspace_id, order: orderOf(row, conn.system, diffed.has(row.id)) });
    }
    if (orders.size > 0) await this.send(orders, true);
  }

  /**
   * Sends orders with the cache each agent uses (cache/agents.ts), one query for the whole batch, and each agent's
   * complete secret set as it is now (secrets/). `fresh`: not to an agent already sent a newer order of the same kind.
   */
  private async send(orders: ReadonlyMap<string, PendingOrder>, fresh = false): Promise<void> {
    const caches = await agentCaches(
      this.opts.db,
      [...orders.values()].map((o) => o.workspaceId),
    );
    const secrets = await secretOrdersFor(this.opts.db, [...orders.values()]);
    const frames = new DeployFrames();
    for (const { agentId, workspaceId, order } of orders.values()) {
      const conn = this.byAgent.get(agentId);
      if (!conn || (fresh && order.index <= conn.sentIndex[order.dry ? 'dry' : 'real'])) continue;
      conn.sendOrder(order, caches.get(workspaceId) ?? null, secrets.get(agentId) ?? [], frames);
    }
  }

  private onBusEvent(event: BusEvent): void {
    switch (event.kind) {
      case 'deploy':
        this.deliverCreated(event).catch((err: unknown) => this.log.error({ err }, 'delivering deployments failed'));
        break;
      case 'cancel':
        this.byAgent.get(event.agentId)?.send({ type: 'deployment.cancel', id: event.deploymentId, reason: 'cancelled by a user' });
        break;
      case 'agents-connected':
        for (const connected of event.agents) {
          const conn = this.byAgent.get(connected.agentId);
          if (conn && conn.connectionId !== connected.connectionId) {
            this.byAgent.delete(connected.agentId);
            conn.close(CLOSE_CODES.replaced, replacedReason(connected.hostname));
          }
        }
        break;
      case 'token-revoked':
        this.closeTokens(new Set([event.tokenId]));
        break;
      case 'agent-removed':
        this.byAgent.get(event.agentId)?.close(CLOSE_CODES.unauthorized, 'the agent was decommissioned by an admin');
        break;
      case 'resync':
        this.deliverNewest([...this.byAgent.keys()]).catch((err: unknown) => this.log.error({ err }, 'resync failed'));
        break;
      case 'deployment-changed':
      case 'agents-changed':
      case 'session-ended':
        break;
    }
  }

  private async onClose(conn: AgentConnection): Promise<void> {
    clearTimeout(conn.helloTimer);
    this.all.delete(conn);
    const agentId = conn.agentId;
    if (!agentId) return;
    if (this.byAgent.get(agentId) === conn) this.byAgent.delete(agentId);
    try {
      await this.disconnects.load({ agentId, connectionId: conn.connectionId });
      this.changed.add(agentId);
      this.connectionLog.disconnected({ agent: conn.agentName });
    } catch (err) {
      this.log.warn({ err, agent: conn.agentName }, 'could not record disconnect');
    }
  }

  /**
   * Closes sockets whose token was revoked by any path the bus did not carry
   * (`drover token revoke --data-dir` writes the database directly; a replica
   * may miss a notification; deleting a workspace deletes its tokens): one
   * query per ping round for the distinct tokens held, so revocation takes
   * effect within a ping interval at worst.
   */
  private async closeRevoked(): Promise<void> {
    const held = [...new Set([...this.all].map((c) => c.principal.tokenId))];
    if (held.length === 0) return;
    try {
      const live = await liveTokenIds(this.opts.db, held);
      this.closeTokens(new Set(held.filter((id) => !live.has(id))));
    } catch (err) {
      this.log.warn({ err }, 'could not check for revoked tokens; retrying next round');
    }
  }

  private closeTokens(tokenIds: ReadonlySet<string>): void {
    for (const conn of this.all) {
      if (tokenIds.has(conn.principal.tokenId)) conn.close(CLOSE_CODES.unauthorized, 'the agent token was revoked');
    }
  }

  private pingAll(): void {
    void this.closeRevoked();
    for (const conn of this.all) {
      if (!conn.alive) {
        conn.socket.terminate();
        continue;
      }
      conn.alive = false;
      conn.socket.ping();
    }
  }

  async flushLastSeen(): Promise<void> {
    if (this.seen.size === 0) return;
    const ids = [...this.seen];
    this.seen.clear();
    try {
      await touchLastSeen(this.opts.db, ids);
    } catch (err) {
      this.log.warn({ err }, 'could not record last-seen times; retrying next round');
      for (const id of ids) this.seen.add(id);
    }
  }

  /** Closes every socket (agents reconnect elsewhere) and marks them offline. */
  async close(): Promise<void> {
    for (const id of this.byAgent.keys()) this.changed.add(id);
    this.unsubscribe();
    for (const t of this.timers) clearInterval(t);
    // One line for them all: the disconnects that follow go to debug (hub/connection-log.ts).
    this.connectionLog.close();
    if (this.all.size > 0) this.log.info({ agents: this.all.size }, `closing ${this.all.size} agent connections: server shutting down`);
    for (const conn of this.all) conn.close(CLOSE_CODES.goingAway, 'server shutting down');
    this.all.clear();
    this.byAgent.clear();
    await this.flushLastSeen();
    await markReplicaDisconnected(this.opts.db, this.opts.replicaId).catch(() => {});
    await this.announceChanged();
  }
}
