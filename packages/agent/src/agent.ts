/**
 * The agent: holds the server connection, hands each deployment to a
 * detached runner process, and forwards what the runner journals.
 *
 * Deployments run one at a time; an order that arrives while one runs waits
 * as "next" (a newer one replaces it — only the latest matters). Everything
 * a runner writes stays in its events file until the server acknowledges
 * the outcome, so a restart of the agent, of the server or of the network
 * loses nothing: after every (re)registration the agent replays it all.
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { currentSystem, resolveProfilePath } from '@drover/nix';
import { DROVER_VERSION } from '@drover/protocol';
import {
  MAX_FRAME_BYTES,
  MAX_LOG_LINES_PER_FRAME,
  PROTOCOL_VERSION,
  type AgentName,
  type DeploymentOrder,
  type LogLine,
  type ServerMessage,
} from '@drover/protocol';
import { ServerConnection } from './connection.js';
import { isAlive, parseStamp } from './process-alive.js';
import {
  appendEvent,
  defaultStateDir,
  deploymentDir,
  files,
  isReported,
  listDeploymentDirs,
  markReported,
  pruneReported,
  readEvents,
  writeOrder,
  type RunnerEvent,
} from './state.js';

export const AGENT_VERSION: string = DROVER_VERSION;

export interface AgentOptions {
  readonly name: AgentName;
  readonly server: string;
  /** The agent token, read again before each connection attempt (a token file may change). */
  readonly token: () => string;
  /** `system`, a profile name, or an absolute profile path. */
  readonly profile: string;
  readonly stateDir?: string | undefined;
  readonly log: Logger;
  /** Milliseconds between looks at running deployments' journals. */
  readonly pollMs?: number | undefined;
  readonly authRetryMs?: number | undefined;
  readonly backoff?: { initialMs: number; maxMs: number } | undefined;
}

interface Outgoing {
  readonly id: string;
  readonly dir: string;
  /** Bytes of the events file already sent on the current connection. */
  sentOffset: number;
  finishedLocally: boolean;
}

/** How many reported deployment folders to keep for inspection. */
const KEEP_REPORTED = 20;

const runnerPath = fileURLToPath(new URL('./runner/main.js', import.meta.url));

export class Agent {
  readonly profilePath: string;
  readonly stateDir: string;
  private readonly log: Logger;
  private readonly connection: ServerConnection;
  private readonly outbox = new Map<string, Outgoing>();
  private running: string | null = null;
  private next: DeploymentOrder | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.log = opts.log;
    this.profilePath = resolveProfilePath(opts.profile);
    this.stateDir = opts.stateDir ?? defaultStateDir(opts.name);
    this.connection = new ServerConnection({
      server: opts.server,
      token: opts.token,
      log: opts.log,
      authRetryMs: opts.authRetryMs,
      backoff: opts.backoff,
      hello: {
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        agent: opts.name,
        version: AGENT_VERSION,
        system: currentSystem(),
        profile: this.profilePath,
        hostname: hostname().slice(0, 256),
      },
      onRegistered: () => {
        for (const o of this.outbox.values()) o.sentOffset = 0; // replay everything unacknowledged
        this.pump();
      },
      onMessage: (m) => this.onMessage(m),
    });
  }

  start(): void {
    this.recover();
    this.log.info({ agent: this.opts.name, profile: this.profilePath, stateDir: this.stateDir, server: this.opts.server }, 'agent starting');
    this.connection.start();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.connection.stop();
  }

  /** Picks up deployments a previous agent process left behind. */
  private recover(): void {
    for (const dir of listDeploymentDirs(this.stateDir)) {
      if (isReported(dir)) continue;
      const id = dir.split('/').pop()!;
      const finished = readEvents(dir, 0).events.some((e) => e.type === 'finished');
      this.outbox.set(id, { id, dir, sentOffset: 0, finishedLocally: finished });
      if (finished) continue;
      if (!existsSync(files.pid(dir))) {
        this.log.info({ deployment: id }, 'starting a deployment that was received but never started');
        this.spawnRunner(id, dir);
      } else {
        this.running = id;
        this.log.info({ deployment: id }, 'following a deployment still running from before the restart');
      }
    }
    this.ensureTimer();
  }

  private onMessage(message: Exclude<ServerMessage, { type: 'registered' }>): void {
    switch (message.type) {
      case 'deploy':
        this.receive(message.deployment);
        break;
      case 'deployment.ack': {
        const o = this.outbox.get(message.id);
        if (o?.finishedLocally) {
          markReported(o.dir);
          this.outbox.delete(message.id);
          pruneReported(this.stateDir, KEEP_REPORTED);
        }
        break;
      }
      case 'deployment.cancel':
        if (this.next?.id === message.id) {
          this.log.info({ deployment: message.id }, 'dropping a queued deployment that was cancelled');
          this.next = null;
        } else if (this.running === message.id) {
          this.signalRunner(message.id, message.reason);
        }
        break;
    }
  }

  private receive(order: DeploymentOrder): void {
    const dir = deploymentDir(this.stateDir, order.id);
    if (existsSync(files.order(dir))) return; // already have it (a re-send after reconnect)
    if (this.running) {
      this.log.info({ deployment: order.id, index: order.index, waitingFor: this.running }, 'deployment queued behind the running one');
      this.next = order;
      return;
    }
    this.startDeployment(order);
  }

  private startDeployment(order: DeploymentOrder): void {
    const dir = deploymentDir(this.stateDir, order.id);
    writeOrder(dir, {
      deployment: order,
      agent: this.opts.name,
      profile: this.profilePath,
      // The order carries the workspace's cache as it is now, so a cache set after the agent connected applies.
      cache: order.cache,
      server: this.opts.server,
      system: currentSystem(),
    });
    this.outbox.set(order.id, { id: order.id, dir, sentOffset: 0, finishedLocally: false });
    this.log.info({ deployment: order.id, index: order.index, storePath: order.storePath }, 'deployment received');
    this.spawnRunner(order.id, dir);
  }

  private spawnRunner(id: string, dir: string): void {
    this.running = id;
    const out = openSync(`${dir}/runner.log`, 'a', 0o600);
    try {
      const child = spawn(process.execPath, [runnerPath, dir], {
        detached: true, // own session: survives the agent being killed or restarted
        stdio: ['ignore', out, out],
        env: { ...process.env, DROVER_AGENT_TOKEN: this.opts.token() },
      });
      child.on('error', (err) => {
        appendEvent(dir, { type: 'finished', time: new Date().toISOString(), status: 'Failed', reason: `could not start the deployment process: ${err.message}`, activePath: null });
      });
      child.unref();
    } finally {
      closeSync(out);
    }
    this.ensureTimer();
  }

  private signalRunner(id: string, reason: string): void {
    const stamp = this.runnerStamp(deploymentDir(this.stateDir, id));
    if (stamp && isAlive(stamp)) {
      this.log.info({ deployment: id, reason }, 'asking the running deployment to cancel');
      try {
        process.kill(stamp.pid, 'SIGTERM');
      } catch {
        /* it just ended */
      }
    }
  }

  private runnerStamp(dir: string) {
    try {
      return parseStamp(readFileSync(files.pid(dir), 'utf8'));
    } catch {
      return null;
    }
  }

  private ensureTimer(): void {
    if (this.timer || this.outbox.size === 0) return;
    this.timer = setInterval(() => this.pump(), this.opts.pollMs ?? 100);
  }

  /** Forwards new journal events, notices finished or dead runners, starts the next deployment. */
  private pump(): void {
    for (const o of this.outbox.values()) {
      const { events, offset } = readEvents(o.dir, o.sentOffset);
      const finished = events.find((e) => e.type === 'finished');
      if (finished && !o.finishedLocally) {
        o.finishedLocally = true;
        this.log.info({ deployment: o.id, status: finished.status, reason: finished.reason }, 'deployment finished');
      }
      if (events.length > 0 && this.connection.isRegistered && this.sendEvents(o.id, events)) o.sentOffset = offset;
      if (!o.finishedLocally && this.running === o.id) this.checkRunnerAlive(o);
      if (o.finishedLocally && this.running === o.id) this.onRunnerDone();
    }
    if (this.outbox.size === 0 && !this.running) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private checkRunnerAlive(o: Outgoing): void {
    const stamp = this.runnerStamp(o.dir);
    if (!stamp || isAlive(stamp)) return;
    // Re-read: it may have finished between our read and its exit.
    if (readEvents(o.dir, 0).events.some((e) => e.type === 'finished')) return;
    this.log.error({ deployment: o.id }, 'the deployment process died without an outcome');
    appendEvent(o.dir, {
      type: 'finished',
      time: new Date().toISOString(),
      status: 'Failed',
      reason: 'the deployment process ended without reporting an outcome (killed, or the machine restarted); check the profile',
      activePath: null,
    });
  }

  private onRunnerDone(): void {
    this.running = null;
    const next = this.next;
    this.next = null;
    if (next && !existsSync(files.order(deploymentDir(this.stateDir, next.id)))) this.startDeployment(next);
  }

  /** Sends events in order, log lines batched. False if the connection went away midway. */
  private sendEvents(id: string, events: readonly RunnerEvent[]): boolean {
    let batch: LogLine[] = [];
    let batchBytes = 0;
    const flush = (): boolean => {
      if (batch.length === 0) return true;
      const ok = this.connection.send({ type: 'deployment.log', id, lines: batch });
      batch = [];
      batchBytes = 0;
      return ok;
    };
    for (const e of events) {
      if (e.type === 'log') {
        // Stay well below the frame limit: lines may hold up to 16 KiB each, more once JSON-escaped.
        const bytes = Buffer.byteLength(JSON.stringify(e.text)) + 96;
        if (batchBytes + bytes > MAX_FRAME_BYTES / 2 && !flush()) return false;
        batch.push({ seq: e.seq, time: e.time, stream: e.stream, text: e.text });
        batchBytes += bytes;
        if (batch.length >= MAX_LOG_LINES_PER_FRAME && !flush()) return false;
        continue;
      }
      if (!flush()) return false;
      const ok =
        e.type === 'started'
          ? this.connection.send({ type: 'deployment.started', id, time: e.time })
          : e.type === 'closure-size'
            ? this.connection.send({ type: 'deployment.closure-size', id, closureSize: e.closureSize })
            : this.connection.send({ type: 'deployment.finished', id, time: e.time, status: e.status, reason: e.reason, activePath: e.activePath });
      if (!ok) return false;
    }
    return flush();
  }
}
