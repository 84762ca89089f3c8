/**
 * The fan-out load generator: simulated agents in one process, each a real
 * websocket to the server that says `hello` and waits for `registered`.
 * run.ts starts one or more of these (one per ~15,000 agents: a process may
 * hold only so many open files), each with a raised open-files limit and its
 * own range of agent names and source addresses. Driven over stdin/stdout,
 * one JSON object per line:
 *
 *   stdout {"type":"registered", …}   once each of its agents registered (or the deadline passed)
 *   stdin  "arm"                      forget earlier `deploy` frames; record the ones from now on
 *   stdin  "arm answer"               the same, and answer each order like an agent whose deployment
 *                                     succeeds at once (`deployment.started`, `deployment.finished` Succeeded)
 *   stdout {"type":"armed"}
 *   stdin  "collect MS"               wait ≤ MS for the rest of the `deploy` frames (run.ts sent the POST
 *                                     meanwhile), or when answering for the `deployment.ack` of every report
 *   stdout {"type":"fanout", …}       the arrival time of each one (`arm`)
 *   stdout {"type":"answered", …}     per agent: when its order came and when the server acknowledged
 *                                     its Succeeded (`arm answer`)
 *   stdin  "stats TAG"                stdout {"type":"stats","tag":TAG,"pings":N}: server pings answered so far
 *   stdin  "storm"                    (config `reconnect`) count from now on: connections lost, attempts, errors
 *   stdin  "rejoin MS"                wait ≤ MS until every agent lost since `storm` registered again
 *   stdout {"type":"rejoined", …}     how many did, when the last did, the attempts and errors meanwhile
 *   stdin  "quit" (or EOF)            close all sockets and exit
 *
 * Times are `process.hrtime` milliseconds (CLOCK_MONOTONIC), one clock for
 * every process on this machine, so run.ts can merge the reports of several
 * load processes against the moment it sent the POST.
 *
 * Agent i of this process is `${prefix}${offset + i + 1}` (zero-padded to
 * `width`) and connects from 127.0.0.(2 + addressBase + ⌊i / perAddress⌋),
 * so one address never needs more than `perAddress` ephemeral ports. Pings
 * are answered by `ws` itself. Config comes as JSON in $BENCH_LOAD_CONFIG.
 *
 * With `reconnect` (the reconnect storm, storm.ts) each simulated agent
 * whose connection closes connects again as the real agent does: after the
 * agent's own capped exponential backoff with jitter (`Backoff` of
 * @drover/agent, 1 s initial, 60 s cap, reset once a connection stayed
 * registered 30 s), every agent on its own timer, nothing in flight-limited.
 */
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { Backoff, retryAfterMs } from '@drover/agent';
import { AGENT_WS_PATH, encodeMessage, PROTOCOL_VERSION, type HelloMessage, type ServerMessage } from '@drover/protocol';
import { errorMessage, sleep, wsText } from '@drover/test-support';

export interface LoadConfig {
  readonly server: string;
  readonly agentToken: string;
  /** Agents in this process. */
  readonly agents: number;
  /** Global index of this process's first agent (names are numbered from offset + 1). */
  readonly offset: number;
  /** Digits of the agent numbers (the same in every load process). */
  readonly width: number;
  readonly prefix: string;
  /** Index of this process's first source address: 127.0.0.(2 + addressBase). */
  readonly addressBase: number;
  readonly perAddress: number;
  /** Handshakes in flight at once. */
  readonly concurrency: number;
  readonly registerTimeoutMs: number;
  /** Reconnect after a close like the real agent (backoff with jitter); the storm phase. */
  readonly reconnect?: boolean;
}

export interface RegisteredReport {
  readonly type: 'registered';
  readonly registered: number;
  readonly failed: number;
  /** hrtime ms of the first connect and of the last `registered`. */
  readonly startAt: number;
  readonly endAt: number;
  readonly firstError: string | null;
  /** Names of the agents that did not register (not to be named in the POST). */
  readonly failedNames: string[];
  /**
   * Per agent registered at its first attempt, ms: connect → websocket open (TCP and the upgrade), and open →
   * `registered` (the hello's round trip). Where a registration's wait is, beside its rate.
   */
  readonly upgradeMs: number[];
  readonly helloMs: number[];
}

/** `arm answer`: one entry per agent of the process, in name order (parallel arrays; null: never came). */
export interface AnsweredReport {
  readonly type: 'answered';
  readonly agents: number;
  readonly acked: number;
  readonly names: string[];
  /** hrtime ms at which its `deploy` frame arrived. */
  readonly deployAt: (number | null)[];
  /** hrtime ms at which the server's `deployment.ack` of its Succeeded arrived (after the server recorded it). */
  readonly ackAt: (number | null)[];
}

export interface FanoutReport {
  readonly type: 'fanout';
  /** Agents registered when armed: each should get one `deploy`. */
  readonly agents: number;
  readonly received: number;
  /** hrtime ms at which each agent's `deploy` frame arrived, sorted. */
  readonly deployAt: number[];
}

/** Milliseconds on CLOCK_MONOTONIC: comparable between processes on one machine. */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** The hello a simulated agent sends (the db phase registers the same). */
export function simHello(name: string): HelloMessage {
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    agent: name,
    version: 'bench',
    system: 'x86_64-linux',
    profile: '/nix/var/nix/profiles/system',
    hostname: name,
  };
}

export function agentName(prefix: string, index: number, width: number): string {
  return `${prefix}${String(index + 1).padStart(width, '0')}`;
}

type DeployMessage = Extract<ServerMessage, { type: 'deploy' }>;

/** `rejoin`: the agents lost since `storm` and how they came back. */
export interface RejoinedReport {
  readonly type: 'rejoined';
  /** Registered agents whose connection closed since `storm`. */
  readonly lost: number;
  /** Of those, registered again. */
  readonly rejoined: number;
  /** hrtime ms of the last one registering again (null: none did). */
  readonly lastAt: number | null;
  /** Connection attempts since `storm`. */
  readonly attempts: number;
  /** Attempts refused at TCP level (the server was down): expected while it restarts. */
  readonly refused: number;
  /** Any other failed attempt (HTTP error at upgrade, close before `registered`, timeout), and the first. */
  readonly errors: number;
  readonly firstError: string | null;
  /** The errors by what failed and how long the attempt had lasted ("socket hang up after 1-10 s" → count). */
  readonly errorKinds: Record<string, number>;
  /** hrtime ms at which each of those errors happened (storm.ts bins them by the time after the restart). */
  readonly errorAt: number[];
}

/** How long a connection must stay registered before the backoff starts over (the agent's default). */
const HEALTHY_AFTER_MS = 30_000;

interface Sim {
  readonly name: string;
  socket: WebSocket | null;
  registered: boolean;
  deployAt: number | null;
  /** The deployment it answered (`arm answer`), and when the server acknowledged the report. */
  answered: string | null;
  ackAt: number | null;
  /** `reconnect`: the agent's backoff, when it last registered, whether it was lost since `storm`. */
  readonly backoff: Backoff;
  registeredAt: number;
  lost: boolean;
  /** The last attempt got a 503 with a Retry-After (a worker at its cap): it is tried again then, as the agent does. */
  askedMs: number | null;
}

export interface StatsReport {
  readonly type: 'stats';
  readonly tag: string;
  /** Websocket pings from the server answered so far (by `ws`, automatically). */
  readonly pings: number;
}

/** One line a load process prints on its stdout, as JSON. */
export type LoadReport =
  RegisteredReport | FanoutReport | AnsweredReport | StatsReport | RejoinedReport | { type: 'armed' } | { type: 'stormed' } | { type: 'error'; error: string };

/** How long a failed attempt lasted, coarsely: tells a reset at once from a wait that ran out. */
function lastedBucket(ms: number): string {
  if (ms < 1_000) return '<1 s';
  if (ms < 10_000) return '1-10 s';
  if (ms < 30_000) return '10-30 s';
  return '≥30 s';
}

function main(config: LoadConfig): void {
  const say = (obj: LoadReport) => process.stdout.write(JSON.stringify(obj) + '\n');
  const sims: Sim[] = Array.from({ length: config.agents }, (_, i) => ({
    name: agentName(config.prefix, config.offset + i, config.width),
    socket: null,
    registered: false,
    deployAt: null,
    answered: null,
    ackAt: null,
    backoff: new Backoff({ initialMs: 1000, maxMs: 60_000 }),
    registeredAt: 0,
    lost: false,
    askedMs: null,
  }));
  const wsUrl = config.server.replace(/^http/, 'ws').replace(/\/$/, '') + AGENT_WS_PATH;
  let armed = false;
  let answer = false;
  let expected = 0;
  let received = 0;
  let onAllIn: (() => void) | null = null;
  let firstError: string | null = null;
  let pings = 0;
  let quitting = false;
  /** `storm` counters. */
  const storm = {
    on: false,
    attempts: 0,
    refused: 0,
    errors: 0,
    firstError: null as string | null,
    errorKinds: {} as Record<string, number>,
    errorAt: [] as number[],
    lastAt: null as number | null,
    onRejoined: null as (() => void) | null,
  };
  /** connectAll's handshakes, as RegisteredReport gives them. */
  const handshakes = { upgradeMs: [] as number[], helloMs: [] as number[] };
  const round = (ms: number): number => Math.round(ms * 10) / 10;
  const lostNotBack = (): number => sims.filter((s) => s.lost && !s.registered).length;

  function connect(sim: Sim, index: number): Promise<boolean> {
    return new Promise((done) => {
      const localAddress = `127.0.0.${2 + config.addressBase + Math.floor(index / config.perAddress)}`;
      const socket = new WebSocket(wsUrl, {
        headers: { authorization: `Bearer ${config.agentToken}` },
        localAddress,
        perMessageDeflate: false,
        handshakeTimeout: 30_000,
      });
      sim.socket = socket;
      const hello = simHello(sim.name);
      let settled = false;
      const startedAt = monotonicMs();
      let openedAt = 0;
      const firstAttempt = !storm.on && sim.askedMs === null && !sim.registered;
      if (storm.on) storm.attempts++;
      const settle = (ok: boolean, why?: string, refused = false, askedMs: number | null = null) => {
        if (settled) return;
        settled = true;
        if (!ok && why && firstError === null) firstError = `${sim.name}: ${why}`;
        if (!ok && storm.on) {
          if (refused) storm.refused++;
          else {
            if (++storm.errors === 1) storm.firstError = `${sim.name}: ${why ?? 'failed'}`;
            const kind = `${(why ?? 'failed').slice(0, 40)} after ${lastedBucket(monotonicMs() - startedAt)}`;
            storm.errorKinds[kind] = (storm.errorKinds[kind] ?? 0) + 1;
            storm.errorAt.push(Math.round(monotonicMs()));
          }
        }
        sim.askedMs = ok ? null : askedMs;
        if (!ok && (config.reconnect || askedMs !== null) && !quitting) setTimeout(() => void connect(sim, index), askedMs ?? sim.backoff.next()).unref();
        done(ok);
      };
      socket.on('open', () => {
        openedAt = monotonicMs();
        socket.send(encodeMessage(hello));
      });
      socket.on('ping', () => pings++);
      socket.on('message', (data) => {
        const at = monotonicMs();
        let frame: { type?: unknown };
        try {
          frame = JSON.parse(wsText(data)) as { type?: unknown };
        } catch {
          return;
        }
        const type = frame.type;
        if (type === 'registered') {
          if (firstAttempt) {
            handshakes.upgradeMs.push(round(openedAt - startedAt));
            handshakes.helloMs.push(round(at - openedAt));
          }
          sim.registered = true;
          sim.registeredAt = Date.now();
          if (sim.lost && storm.on) {
            storm.lastAt = at;
            if (lostNotBack() === 0) storm.onRejoined?.();
          }
          settle(true);
        } else if (type === 'deploy' && armed && sim.deployAt === null) {
          sim.deployAt = at;
          if (answer) succeed(sim, socket, frame as DeployMessage);
          else if (++received >= expected) onAllIn?.();
        } else if (type === 'deployment.ack' && answer && sim.ackAt === null && sim.answered !== null) {
          sim.ackAt = at;
          if (++received >= expected) onAllIn?.();
        }
      });
      socket.on('unexpected-response', (_req, res) => {
        // As the agent (connection.ts): a 503's Retry-After instead of the backoff.
        settle(false, `HTTP ${res.statusCode} at upgrade`, false, res.statusCode === 503 ? retryAfterMs(res.headers['retry-after'], sim.backoff.maxMs) : null);
        socket.terminate();
      });
      socket.on('error', (err: Error & { code?: string }) => settle(false, err.message, err.code === 'ECONNREFUSED'));
      socket.on('close', (code, reason) => {
        const wasRegistered = sim.registered;
        sim.registered = false;
        settle(false, `closed ${code} ${reason.toString()}`);
        if (!wasRegistered || !config.reconnect || quitting) return;
        // A registered connection lost: reconnect as the agent does (connection.ts).
        if (storm.on) sim.lost = true;
        if (Date.now() - sim.registeredAt >= HEALTHY_AFTER_MS) sim.backoff.reset();
        setTimeout(() => void connect(sim, index), sim.backoff.next()).unref();
      });
    });
  }

  /** Reports the order `data` carried as started and Succeeded at once, as an agent whose deployment (health checks included) succeeds. */
  function succeed(sim: Sim, socket: WebSocket, { deployment }: DeployMessage): void {
    sim.answered = deployment.id;
    const time = new Date().toISOString();
    socket.send(encodeMessage({ type: 'deployment.started', id: deployment.id, time }));
    socket.send(encodeMessage({ type: 'deployment.finished', id: deployment.id, time, status: 'Succeeded', reason: null, activePath: deployment.storePath }));
  }

  async function connectAll(): Promise<void> {
    const startAt = monotonicMs();
    const deadline = Date.now() + config.registerTimeoutMs;
    let next = 0;
    const worker = async () => {
      while (next < sims.length && Date.now() < deadline) {
        const i = next++;
        await connect(sims[i]!, i);
      }
    };
    await Promise.all(Array.from({ length: Math.min(config.concurrency, sims.length) }, worker));
    // Those told to come back (503 + Retry-After) count once they did, or once the deadline passed.
    while (Date.now() < deadline && sims.some((s) => !s.registered && s.askedMs !== null)) await sleep(100);
    const endAt = monotonicMs();
    const failedNames = sims.filter((s) => !s.registered).map((s) => s.name);
    say({
      type: 'registered',
      registered: sims.length - failedNames.length,
      failed: failedNames.length,
      startAt,
      endAt,
      firstError,
      failedNames,
      ...handshakes,
    });
  }

  function arm(answering: boolean): void {
    for (const s of sims) {
      s.deployAt = null;
      s.answered = null;
      s.ackAt = null;
    }
    answer = answering;
    expected = sims.filter((s) => s.registered).length;
    received = 0;
    armed = true;
    say({ type: 'armed' });
  }

  async function collect(timeoutMs: number): Promise<void> {
    if (received < expected) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((r) => {
        onAllIn = r;
        timer = setTimeout(r, timeoutMs);
      });
      clearTimeout(timer);
      onAllIn = null;
    }
    if (answer) {
      say({
        type: 'answered',
        agents: expected,
        acked: received,
        names: sims.map((s) => s.name),
        deployAt: sims.map((s) => s.deployAt),
        ackAt: sims.map((s) => s.ackAt),
      });
      return;
    }
    const deployAt = sims
      .map((s) => s.deployAt)
      .filter((v): v is number => v !== null)
      .sort((a, b) => a - b);
    say({ type: 'fanout', agents: expected, received: deployAt.length, deployAt });
  }

  /** Sent once the server was killed and restarted (its sockets are closed by then): waits for every lost agent's return. */
  async function rejoin(timeoutMs: number): Promise<void> {
    if (lostNotBack() > 0 || !sims.some((s) => s.lost)) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((r) => {
        storm.onRejoined = r;
        timer = setTimeout(r, timeoutMs);
      });
      clearTimeout(timer);
      storm.onRejoined = null;
    }
    const lost = sims.filter((s) => s.lost);
    say({
      type: 'rejoined',
      lost: lost.length,
      rejoined: lost.filter((s) => s.registered).length,
      lastAt: storm.lastAt,
      attempts: storm.attempts,
      refused: storm.refused,
      errors: storm.errors,
      firstError: storm.firstError,
      errorKinds: storm.errorKinds,
      errorAt: storm.errorAt,
    });
  }

  function quit(): void {
    quitting = true;
    for (const s of sims) s.socket?.terminate();
    setTimeout(() => process.exit(0), 200).unref();
  }

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === 'arm') arm(arg === 'answer');
    else if (cmd === 'collect') collect(Number(arg) || 60_000).catch((err: unknown) => say({ type: 'error', error: errorMessage(err) }));
    else if (cmd === 'stats') say({ type: 'stats', tag: arg ?? '', pings });
    else if (cmd === 'storm') {
      storm.on = true;
      say({ type: 'stormed' });
    } else if (cmd === 'rejoin') rejoin(Number(arg) || 60_000).catch((err: unknown) => say({ type: 'error', error: errorMessage(err) }));
    else if (cmd === 'quit') quit();
  });
  lines.on('close', quit);
  connectAll().catch((err: unknown) => say({ type: 'error', error: errorMessage(err) }));
}

const raw = process.env['BENCH_LOAD_CONFIG'];
if (raw) main(JSON.parse(raw) as LoadConfig);
