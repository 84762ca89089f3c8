/**
 * The fan-out load generator: N simulated agents in one process, each a real
 * websocket to the server that says `hello` and waits for `registered`.
 * Started by run.ts with a raised open-files limit; it is driven over
 * stdin/stdout, one JSON object per line:
 *
 *   stdout {"type":"registered", …}   once every agent registered (or the deadline passed)
 *   stdin  "activate"                 POST /api/v1/activate naming every registered agent
 *   stdout {"type":"fanout", …}       once every one of them received its `deploy` frame (or the deadline passed)
 *   stdin  "quit" (or EOF)            close all sockets and exit
 *
 * Sockets are spread over source addresses 127.0.0.2, 127.0.0.3, … so one
 * address never needs more than `perAddress` ephemeral ports. Pings are
 * answered by `ws` itself. Config comes as JSON in $BENCH_LOAD_CONFIG.
 */
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { AGENT_WS_PATH, encodeMessage, PROTOCOL_VERSION, type HelloMessage } from '@drover/protocol';

export interface LoadConfig {
  readonly server: string;
  readonly agentToken: string;
  readonly activateToken: string;
  readonly agents: number;
  readonly prefix: string;
  readonly perAddress: number;
  /** Handshakes in flight at once. */
  readonly concurrency: number;
  readonly registerTimeoutMs: number;
  readonly deliverTimeoutMs: number;
  readonly storePath: string;
}

export interface RegisteredReport {
  readonly type: 'registered';
  readonly registered: number;
  readonly failed: number;
  readonly ms: number;
  readonly firstError: string | null;
}

export interface FanoutReport {
  readonly type: 'fanout';
  readonly agents: number;
  readonly received: number;
  readonly postStatus: number;
  readonly postMs: number;
  /** Milliseconds from sending the POST to each agent's `deploy` frame, sorted. */
  readonly deliveryMs: number[];
  readonly error: string | null;
}

interface Sim {
  readonly name: string;
  socket: WebSocket | null;
  registered: boolean;
  deployAt: number | null;
}

const config = JSON.parse(process.env['BENCH_LOAD_CONFIG'] ?? 'null') as LoadConfig | null;
if (!config) throw new Error('BENCH_LOAD_CONFIG is not set; load.js is started by run.js');

const say = (obj: RegisteredReport | FanoutReport | { type: 'error'; error: string }) => process.stdout.write(JSON.stringify(obj) + '\n');
const width = String(config.agents).length < 4 ? 4 : String(config.agents).length;
const sims: Sim[] = Array.from({ length: config.agents }, (_, i) => ({
  name: `${config.prefix}${String(i + 1).padStart(width, '0')}`,
  socket: null,
  registered: false,
  deployAt: null,
}));
const wsUrl = config.server.replace(/^http/, 'ws').replace(/\/$/, '') + AGENT_WS_PATH;
let activateAt = 0;
let onDeploy: (() => void) | null = null;
let firstError: string | null = null;

function connect(sim: Sim, index: number): Promise<boolean> {
  return new Promise((done) => {
    const localAddress = `127.0.0.${2 + Math.floor(index / config!.perAddress)}`;
    const socket = new WebSocket(wsUrl, {
      headers: { authorization: `Bearer ${config!.agentToken}` },
      localAddress,
      perMessageDeflate: false,
      handshakeTimeout: 30_000,
    });
    sim.socket = socket;
    const hello: HelloMessage = {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      agent: sim.name,
      version: 'bench',
      system: 'x86_64-linux',
      profile: '/nix/var/nix/profiles/system',
      hostname: sim.name,
    };
    let settled = false;
    const settle = (ok: boolean, why?: string) => {
      if (settled) return;
      settled = true;
      if (!ok && why && firstError === null) firstError = `${sim.name}: ${why}`;
      done(ok);
    };
    socket.on('open', () => socket.send(encodeMessage(hello)));
    socket.on('message', (data) => {
      const at = performance.now();
      let type: unknown;
      try {
        type = (JSON.parse(data.toString()) as { type?: unknown }).type;
      } catch {
        return;
      }
      if (type === 'registered') {
        sim.registered = true;
        settle(true);
      } else if (type === 'deploy' && sim.deployAt === null && activateAt > 0) {
        sim.deployAt = at - activateAt;
        onDeploy?.();
      }
    });
    socket.on('unexpected-response', (_req, res) => {
      settle(false, `HTTP ${res.statusCode} at upgrade`);
      socket.terminate();
    });
    socket.on('error', (err) => settle(false, err.message));
    socket.on('close', (code, reason) => {
      sim.registered = false;
      settle(false, `closed ${code} ${reason.toString()}`);
    });
  });
}

async function connectAll(): Promise<void> {
  const t0 = performance.now();
  const deadline = Date.now() + config!.registerTimeoutMs;
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < sims.length && Date.now() < deadline) {
      const i = next++;
      if (!(await connect(sims[i]!, i))) failed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(config!.concurrency, sims.length) }, worker));
  say({ type: 'registered', registered: sims.filter((s) => s.registered).length, failed, ms: performance.now() - t0, firstError });
}

async function activate(): Promise<void> {
  const targets = sims.filter((s) => s.registered);
  for (const s of sims) s.deployAt = null;
  const body = JSON.stringify({ agents: Object.fromEntries(targets.map((s) => [s.name, config!.storePath])) });
  let received = 0;
  let allIn: () => void = () => {};
  const all = new Promise<void>((r) => (allIn = r));
  onDeploy = () => {
    if (++received >= targets.length) allIn();
  };
  let postStatus = 0;
  let postMs = 0;
  let error: string | null = null;
  activateAt = performance.now();
  try {
    const res = await fetch(`${config!.server.replace(/\/$/, '')}/api/v1/activate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${config!.activateToken}`, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(config!.deliverTimeoutMs),
    });
    postMs = performance.now() - activateAt;
    postStatus = res.status;
    const text = await res.text();
    if (res.status !== 201) error = `POST /activate answered ${res.status}: ${text.slice(0, 300)}`;
  } catch (err) {
    error = `POST /activate failed: ${(err as Error).message}`;
  }
  if (!error) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, config!.deliverTimeoutMs)))]);
    clearTimeout(timer);
  }
  const deliveryMs = targets.map((s) => s.deployAt).filter((v): v is number => v !== null).sort((a, b) => a - b);
  say({ type: 'fanout', agents: targets.length, received: deliveryMs.length, postStatus, postMs, deliveryMs, error });
}

function quit(): void {
  for (const s of sims) s.socket?.terminate();
  setTimeout(() => process.exit(0), 200).unref();
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'activate') activate().catch((err: Error) => say({ type: 'error', error: err.message }));
  else if (cmd === 'quit') quit();
});
lines.on('close', quit);
connectAll().catch((err: Error) => say({ type: 'error', error: err.message }));
