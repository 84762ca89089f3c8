/**
 * The agent: holds the server connection, hands each deployment to a
 * detached runner process, and forwards what the runner journals.
 *
 * Deployments run one at a time; an order that arrives while one runs waits
 * as "next" (a newer one replaces it — only the latest matters). Everything
 * a runner writes stays in its journal until the server acknowledges the
 * outcome, so a restart of the agent, of the server or of the network loses
 * nothing: after every (re)registration the outbox replays it all.
 *
 * A write that fails (a full state directory) never stops the agent: an
 * order it cannot write is reported Failed with the reason, and so is a
 * runner that ends without an outcome — journaled if possible, else held in
 * memory by the outbox until the server acknowledges it.
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { currentSystem, resolveProfilePath } from '@drover/nix';
import { DEADLINES, DROVER_VERSION, PROTOCOL_VERSION, type AgentName, type DeploymentOrder, type ServerMessage } from '@drover/protocol';
import { ServerConnection } from './connection.js';
import { appendEntry, finishedEntry } from './journal/entry.js';
import { Outbox } from './outbox.js';
import { ReplayWatch } from './replay-watch.js';
import { isAlive, parseStamp } from './process-alive.js';
import { defaultStateDir, deploymentDir, files, isReported, listDeploymentDirs, pruneReported, readOrder, writeOrder } from './state.js';
import { describeWriteFailure, tryWrite } from './write-failure.js';

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
  /** Milliseconds between looks at open deployments' journals (a stat each; only appended bytes are read). */
  readonly pollMs?: number | undefined;
  readonly authRetryMs?: number | undefined;
  readonly backoff?: { initialMs: number; maxMs: number } | undefined;
  /** How long a connection must stay registered before the reconnect backoff starts over (default 30 s). */
  readonly healthyAfterMs?: number | undefined;
  /** Default activation deadline (a deploy's `activationTimeout` overrides it); 10 min when unset. */
  readonly activationTimeoutMs?: number | undefined;
  /** Default confirm deadline after activation (a deploy's `confirmTimeout` overrides it); 60 s when unset. */
  readonly confirmTimeoutMs?: number | undefined;
  /** Bytes to keep free on the store's filesystem: a deployment that would eat into them stops before fetching. */
  readonly storeReserveBytes?: number | undefined;
}

/** How many reported deployment folders to keep for inspection. */
const KEEP_REPORTED = 20;

const runnerPath = fileURLToPath(new URL('./runner/main.js', import.meta.url));

export class Agent {
  readonly profilePath: string;
  readonly stateDir: string;
  private readonly log: Logger;
  private readonly connection: ServerConnection;
  private readonly outbox: Outbox;
  private readonly replayWatch: ReplayWatch;
  /** The deployments the last replay sent. */
  private replayed: readonly string[] = [];
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
      healthyAfterMs: opts.healthyAfterMs,
      onRegistered: () => {
        this.replayed = this.outbox.replay();
        this.superviseRunner();
      },
      onMessage: (m) => this.onMessage(m),
      onClosed: (closed) => this.replayWatch.closed(closed, this.replayed),
    });
    this.replayWatch = new ReplayWatch(opts.log);
    this.outbox = new Outbox(this.connection, opts.log);
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
      const id = this.orderId(dir);
      if (id === null) continue;
      this.outbox.add(id, dir);
      if (this.outbox.outcome(id)) continue;
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

  /** The deployment id of a folder, from its order (the journal's lines carry it too). */
  private orderId(dir: string): string | null {
    try {
      return readOrder(dir).deployment.id;
    } catch (err) {
      this.log.error({ dir, error: err instanceof Error ? err.message : String(err) }, 'skipping a deployment folder whose order.json cannot be read');
      return null;
    }
  }

  private onMessage(message: Exclude<ServerMessage, { type: 'registered' }>): void {
    switch (message.type) {
      case 'deploy':
        this.receive(message.deployment);
        break;
      case 'deployment.ack':
        if (this.outbox.acknowledge(message.id)) this.prune();
        break;
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
    // Already have it: a re-send after reconnect, or one whose failure is not acknowledged yet.
    if (existsSync(files.order(dir)) || this.outbox.outcome(order.id)) return;
    if (this.running) {
      this.log.info({ deployment: order.id, index: order.index, waitingFor: this.running }, 'deployment queued behind the running one');
      this.next = order;
      return;
    }
    this.startDeployment(order);
  }

  private startDeployment(order: DeploymentOrder): void {
    const dir = deploymentDir(this.stateDir, order.id);
    const failure = tryWrite(() =>
      writeOrder(dir, {
        deployment: order,
        agent: this.opts.name,
        profile: this.profilePath,
        // The order carries the workspace's cache as it is now, so a cache set after the agent connected applies.
        cache: order.cache,
        server: this.opts.server,
        system: currentSystem(),
        activationTimeoutMs: order.activationTimeoutMs ?? this.opts.activationTimeoutMs ?? DEADLINES.activationTimeout.default,
        confirmTimeoutMs: order.confirmTimeoutMs ?? this.opts.confirmTimeoutMs ?? DEADLINES.confirmTimeout.default,
        storeReserveBytes: this.opts.storeReserveBytes ?? 0,
      }),
    );
    if (failure !== null) {
      const reason = `could not take the deployment: ${describeWriteFailure(failure, this.stateDir)}; the profile was not changed`;
      this.log.error({ deployment: order.id, reason }, 'deployment refused: its order cannot be written');
      this.outbox.hold(dir, finishedEntry(order.id, 'Failed', reason, null));
      this.ensureTimer();
      return;
    }
    this.outbox.add(order.id, dir);
    this.log.info({ deployment: order.id, index: order.index, storePath: order.storePath }, 'deployment received');
    this.spawnRunner(order.id, dir);
  }

  private spawnRunner(id: string, dir: string): void {
    this.running = id;
    const out = this.openRunnerLog(dir);
    try {
      const child = spawn(process.execPath, [runnerPath, dir], {
        detached: true, // own session: survives the agent being killed or restarted
        stdio: ['ignore', out, out],
        env: { ...process.env, DROVER_AGENT_TOKEN: this.opts.token() },
      });
      child.on('error', (err) => this.finishHere(id, dir, `could not start the deployment process: ${err.message}`));
      // A runner that could not even write its PID (a full disk) is noticed here, not by the PID check.
      child.on('exit', (code, signal) => {
        if (!this.outbox.has(id) || this.outbox.refresh(id)) return;
        this.log.error({ deployment: id, code, signal }, 'the deployment process exited without an outcome');
        this.finishHere(id, dir, `the deployment process exited (${signal ?? `code ${code}`}) without recording an outcome; check the profile`);
      });
      child.unref();
    } finally {
      if (typeof out === 'number') closeSync(out);
    }
    this.ensureTimer();
  }

  /** The runner's stdout/stderr file, or nowhere if it cannot be created. */
  private openRunnerLog(dir: string): number | 'ignore' {
    try {
      return openSync(`${dir}/runner.log`, 'a', 0o600);
    } catch (err) {
      this.log.warn({ error: describeWriteFailure(err, this.stateDir) }, 'cannot create runner.log; the deployment process output is discarded');
      return 'ignore';
    }
  }

  /**
   * Records an outcome the runner could not: appended to the journal if it
   * can be written, else held by the outbox with the write failure added.
   */
  private finishHere(id: string, dir: string, reason: string): void {
    // Acknowledged already (the runner's exit came after the ack), or an outcome is there.
    if (!this.outbox.has(id) || this.outbox.refresh(id)) return;
    const failure = tryWrite(() => appendEntry(dir, finishedEntry(id, 'Failed', reason, null)));
    if (failure === null) {
      this.outbox.refresh(id);
      return;
    }
    const full = `${reason}; ${describeWriteFailure(failure, this.stateDir)}`;
    this.log.error({ deployment: id, reason: full }, 'cannot journal the outcome; reporting it from memory');
    this.outbox.hold(dir, finishedEntry(id, 'Failed', full, null));
  }

  private prune(): void {
    const failure = tryWrite(() => pruneReported(this.stateDir, KEEP_REPORTED));
    if (failure !== null) this.log.warn({ error: String(failure) }, 'could not remove old deployment folders');
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

  /** Forwards what the journals gained, then looks after the running deployment. */
  private pump(): void {
    try {
      this.outbox.pump();
      this.superviseRunner();
    } catch (err) {
      this.log.error({ error: err instanceof Error ? err.message : String(err) }, 'looking after the open deployments failed; trying again');
    }
    if (this.outbox.size === 0 && !this.running) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Notices a runner that died without an outcome, and starts the next deployment once the running one finished. */
  private superviseRunner(): void {
    const id = this.running;
    if (id === null) return;
    // Acknowledged already: its outcome was read, sent and stored by some path (the runner's exit, a replay
    // after registration) before this check saw it. It is done; waiting on would hold every later deployment.
    if (!this.outbox.has(id)) {
      this.onRunnerDone();
      return;
    }
    if (!this.outbox.outcome(id)) this.checkRunnerAlive(id);
    if (this.outbox.outcome(id)) this.onRunnerDone();
  }

  private checkRunnerAlive(id: string): void {
    const dir = deploymentDir(this.stateDir, id);
    const stamp = this.runnerStamp(dir);
    if (!stamp || isAlive(stamp)) return;
    // Read on: it may have finished between our last read and its exit.
    if (this.outbox.refresh(id)) return;
    this.log.error({ deployment: id }, 'the deployment process died without an outcome');
    this.finishHere(id, dir, 'the deployment process ended without reporting an outcome (killed, or the machine restarted); check the profile');
  }

  private onRunnerDone(): void {
    this.running = null;
    const next = this.next;
    this.next = null;
    if (next && !existsSync(files.order(deploymentDir(this.stateDir, next.id)))) this.startDeployment(next);
  }
}
