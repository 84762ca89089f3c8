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
 *
 * What the agent needs to deploy (Nix, a writable profile directory:
 * self-check.ts) is checked at every connection — the hello carries the
 * problems, so the server shows "cannot deploy: …" — and again for every
 * deployment, which fails at once with the reason while one remains.
 *
 * Secrets (secrets/): the hello carries the recipient of the agent's age
 * identity; each order's secrets are written by its runner. At start the
 * agent writes again the files of the last applied set that are missing
 * (after a reboot /run is empty) before it takes or follows any deployment —
 * in a short-lived child (secrets/at-start.ts): this process never loads
 * age nor holds a plaintext — and says in its log what differs from the
 * declared secrets.
 *
 * A `bootstrap` agent (`drover agent --bootstrap`) hands over when the
 * service-managed agent of its name connects: replaced, it stops for good
 * and calls `onTakenOver`. Sharing the state directory, the new agent
 * follows and reports a deployment still running (the runner is its own
 * process); one the bootstrap agent reported already is marked reported, so
 * each outcome reaches the server from exactly one of them.
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
// Subpaths, not the whole @drover/nix (NARs, narinfo, signing): this process idles for months (bench/README.md, agent memory).
import { resolveProfilePath } from '@drover/nix/profile';
import { currentSystem } from '@drover/nix/system';
import {
  DEADLINES,
  DROVER_VERSION,
  MAX_PROBLEM_CHARS,
  MAX_PROBLEMS,
  PROTOCOL_VERSION,
  type AgentName,
  type DeploymentOrder,
  type HelloMessage,
  type Labels,
  type SecretOrder,
  type ServerMessage,
} from '@drover/protocol/wire';
import { ServerConnection } from './connection.js';
import { appendEntry, finishedEntry } from './journal/entry.js';
import { Outbox } from './outbox.js';
import { ReplayWatch } from './replay-watch.js';
import { RunnerLauncher, type RunnerScopeMode } from './runner-launch.js';
import { isAlive, parseStamp } from './process-alive.js';
import { defaultStateDir, deploymentDir, files, isReported, listDeploymentDirs, pruneReported, readOrder, writeOrder } from './state.js';
import { describeWriteFailure, tryWrite } from './write-failure.js';
import { deployProblems } from './self-check.js';
import { readApplied } from './secrets/applied.js';
import { declaredSecretProblems, readDeclaredSecrets } from './secrets/declared.js';
import type { AgentIdentity } from './secrets/identity.js';
import { SECRETS_AT_START } from './secrets/at-start.js';

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
  /** Wait after another agent with this name replaced this one (default 10 min). */
  readonly replacedRetryMs?: number | undefined;
  /** Hand over instead of waiting when replaced: the connection stops for good and `onTakenOver` is called. */
  readonly bootstrap?: boolean | undefined;
  /** A bootstrap agent was replaced by the agent of its name; `reason` is the server's (it names the other host). */
  readonly onTakenOver?: ((reason: string) => void) | undefined;
  /** Under systemd, start each runner in a scope of its own, outside the agent unit's cgroup (default `auto`; runner-launch.ts). */
  readonly runnerScope?: RunnerScopeMode | undefined;
  /** Default activation deadline (a deploy's `activationTimeout` overrides it); 10 min when unset. */
  readonly activationTimeoutMs?: number | undefined;
  /** Default confirm deadline after activation (a deploy's `confirmTimeout` overrides it); 60 s when unset. */
  readonly confirmTimeoutMs?: number | undefined;
  /** Bytes to keep free on the store's filesystem: a deployment that would eat into them stops before fetching. */
  readonly storeReserveBytes?: number | undefined;
  /** Labels this agent declares in its hello (`--label role=web`); an admin's changes on the server override them. */
  readonly labels?: Labels | undefined;
  /** The age identity secrets are encrypted to (secrets/identity.ts loadIdentity); absent: no recipient in the hello, no secrets. */
  readonly identity?: AgentIdentity | undefined;
  /** The configuration's declared secrets file (`--declared-secrets`, secrets/declared.ts), checked against what the agent receives. */
  readonly declaredSecretsFile?: string | undefined;
}

/** How often an agent that cannot deploy checks again. */
const PROBLEMS_RECHECK_MS = 60_000;

/** Longest the start-up secrets step may take before it is killed (and the agent connects). */
const SECRETS_AT_START_MS = 60_000;

/** How many reported deployment folders to keep for inspection. */
const KEEP_REPORTED = 20;

/** The argv word that turns the single-file agent into a deployment runner (see useBundledRunner). */
export const RUNNER_MODE = '__drover-runner';

/** What node runs as a deployment runner, before the deployment directory: runner/main.js beside this file by default. */
let runnerEntry: readonly string[] = [fileURLToPath(new URL('./runner/main.js', import.meta.url))];

/** For the single-file agent (one bundled .mjs): runners are started as `node FILE __drover-runner DIR`. */
export function useBundledRunner(file: string): void {
  runnerEntry = [file, RUNNER_MODE];
}

/** The command line of the detached runner of one deployment directory. */
function runnerArgv(dir: string): [string, ...string[]] {
  return [process.execPath, ...runnerEntry, dir];
}

export class Agent {
  readonly profilePath: string;
  readonly stateDir: string;
  private readonly log: Logger;
  private readonly connection: ServerConnection;
  private readonly outbox: Outbox;
  private readonly replayWatch: ReplayWatch;
  private readonly launcher: RunnerLauncher;
  /** The deployments the last replay sent. */
  private replayed: readonly string[] = [];
  private running: string | null = null;
  private next: DeploymentOrder | null = null;
  private timer: NodeJS.Timeout | undefined;
  /** What kept the agent from deploying at the last look (self-check.ts). */
  private problems: readonly string[] = [];
  private recheckTimer: NodeJS.Timeout | undefined;
  private stopped = false;

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
      hello: () => this.hello(),
      healthyAfterMs: opts.healthyAfterMs,
      replacedRetryMs: opts.replacedRetryMs,
      onReplaced: (reason) => {
        // The service-managed agent runs on this machine; a connection from another host is a name conflict, not the handover.
        const other = / from host (\S+)$/.exec(reason)?.[1];
        if (!opts.bootstrap || (other !== undefined && other !== hostname().slice(0, 256))) return false;
        this.stop();
        opts.onTakenOver?.(reason);
        return true;
      },
      onRegistered: () => {
        this.replayed = this.outbox.replay();
        this.superviseRunner();
      },
      onMessage: (m) => this.onMessage(m),
      onClosed: (closed) => this.replayWatch.closed(closed, this.replayed),
    });
    this.replayWatch = new ReplayWatch(opts.log);
    this.outbox = new Outbox(this.connection, opts.log);
    this.launcher = new RunnerLauncher(opts.runnerScope ?? 'auto', opts.log);
  }

  start(): void {
    this.checkProblems();
    // While it cannot deploy, look again every minute: a fix shows on the server without a restart or a deployment.
    this.recheckTimer = setInterval(() => {
      if (this.problems.length > 0) this.checkProblems();
    }, PROBLEMS_RECHECK_MS);
    const applied = readApplied(this.stateDir);
    this.checkDeclaredSecrets(applied);
    if (applied.length === 0) this.begin();
    else void this.materialiseAtStart().finally(() => this.begin());
  }

  /** Takes up where the last process left off, then connects. */
  private begin(): void {
    if (this.stopped) return;
    this.recover();
    this.log.info(
      {
        agent: this.opts.name,
        profile: this.profilePath,
        stateDir: this.stateDir,
        server: this.opts.server,
        runners: this.launcher.mode,
        recipient: this.opts.identity?.recipient,
      },
      'agent starting',
    );
    this.connection.start();
  }

  /**
   * Writes the missing files of the last applied secret set again (after a
   * reboot /run is empty), in a child process; its lines are logged, a
   * failure too, never fatal. Bounded: a child still running after
   * SECRETS_AT_START_MS is killed.
   */
  private async materialiseAtStart(): Promise<void> {
    const identity = this.opts.identity;
    if (identity === undefined) {
      this.log.error(
        { code: 'DROVER_ERR_AGENT_SECRET' },
        'cannot write the secrets of the last deployment again: this agent was started without an age identity',
      );
      return;
    }
    const [file, ...args] = runnerArgv(SECRETS_AT_START);
    const env = { ...process.env };
    delete env['DROVER_AGENT_TOKEN'];
    const child = spawn(file, [...args, this.stateDir, identity.file], { stdio: ['ignore', 'pipe', 'pipe'], env });
    const timer = setTimeout(() => child.kill('SIGKILL'), SECRETS_AT_START_MS);
    const lines = (stream: NodeJS.ReadableStream, each: (line: string) => void) => {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        for (const line of parts) if (line) each(line);
      });
    };
    lines(child.stdout, (line) => (line.startsWith('warning: ') ? this.log.warn(line.slice('warning: '.length)) : this.log.info(line)));
    lines(child.stderr, (line) =>
      this.log.error({ code: 'DROVER_ERR_AGENT_SECRET' }, `cannot write the secrets of the last deployment again: ${line}; the next deployment writes them`),
    );
    await new Promise<void>((resolve) => {
      child.on('error', (err) => {
        this.log.error({ code: 'DROVER_ERR_AGENT_SECRET' }, `cannot start the secrets step: ${err.message}`);
        resolve();
      });
      child.on('close', () => resolve());
    });
    clearTimeout(timer);
  }

  /** Logs what differs between the declared secrets and `set`. */
  private checkDeclaredSecrets(set: readonly SecretOrder[]): void {
    if (this.opts.declaredSecretsFile === undefined) return;
    try {
      const declared = readDeclaredSecrets(this.opts.declaredSecretsFile);
      for (const problem of declaredSecretProblems(declared, set, this.opts.name)) this.log.warn(problem);
    } catch (err) {
      this.log.warn(err instanceof Error ? err.message : String(err));
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.recheckTimer);
    clearInterval(this.timer);
    this.timer = undefined;
    this.connection.stop();
  }

  private hello(): HelloMessage {
    return {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      agent: this.opts.name,
      version: AGENT_VERSION,
      system: currentSystem(),
      profile: this.profilePath,
      hostname: hostname().slice(0, 256),
      problems: [...this.checkProblems()],
      labels: { ...this.opts.labels },
      ...(this.opts.identity ? { recipient: this.opts.identity.recipient } : {}),
    };
  }

  /** Runs the deploy self-checks; logs what changed since the last look and tells the server (the hello carries them on connect). */
  private checkProblems(): readonly string[] {
    const now = deployProblems(this.profilePath)
      .slice(0, MAX_PROBLEMS)
      .map((p) => p.slice(0, MAX_PROBLEM_CHARS));
    const changed = now.join('\n') !== this.problems.join('\n');
    this.problems = now;
    if (changed) {
      for (const problem of now) this.log.error({ code: 'DROVER_ERR_AGENT_CANNOT_DEPLOY' }, `cannot deploy: ${problem}`);
      if (now.length === 0) this.log.info('self-checks pass: the agent can deploy');
      this.connection.send({ type: 'agent.problems', problems: [...now] });
    }
    return now;
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
    const problems = this.checkProblems();
    if (problems.length > 0) {
      const reason = `this agent cannot deploy (DROVER_ERR_AGENT_CANNOT_DEPLOY): ${problems.join('; ')}; the profile was not changed`;
      this.log.error({ deployment: order.id }, 'deployment refused: the agent cannot deploy');
      this.outbox.hold(dir, finishedEntry(order.id, 'Failed', reason, null));
      this.ensureTimer();
      return;
    }
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
        identityFile: this.opts.identity?.file ?? null,
        declaredSecretsFile: this.opts.declaredSecretsFile ?? null,
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
      const launch = this.launcher.command(runnerArgv(dir), id);
      const child = spawn(launch.file, launch.args, {
        detached: true, // own session: survives the agent being killed or restarted
        stdio: ['ignore', out, out],
        env: { ...process.env, DROVER_AGENT_TOKEN: this.opts.token() },
      });
      child.on('error', (err) => this.finishHere(id, dir, `could not start the deployment process: ${err.message}`));
      // A runner that could not even write its PID (a full disk) is noticed here, not by the PID check.
      child.on('exit', (code, signal) => {
        if (this.launcher.fellBack(launch, code, files.pid(dir), `${dir}/runner.log`)) {
          this.spawnRunner(id, dir);
          return;
        }
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
