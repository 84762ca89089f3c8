/**
 * A stand-in for `cachix deploy agent NAME [PROFILE]` (cachix 1.11), written
 * from the protocol document for the end-to-end tests: token in
 * CACHIX_AGENT_TOKEN, `--host URL`, one websocket `/ws` on which it sends no
 * data frames (pings only, every 30 s, reconnect after 60 s without a
 * pong), a reconnect after a constant 1 s on any error or any close but
 * 1000 (which ends it with exit 0), Deployment frames ignored until
 * AgentRegistered, and one detached deployment subprocess at a time
 * (deployment.ts, its input on stdin), the others queued.
 *
 * Usage: node agent.js NAME [PROFILE] --host URL [--lock-dir DIR]
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import WebSocket from 'ws';
import { agentHeaders, wsUrl, type CacheCommand, type DeploymentCommand, type SubprocessInput } from './wire.js';

const PING_MS = 30_000;
const PONG_TIMEOUT_MS = 60_000;
const RECONNECT_MS = 1000;

function say(line: string): void {
  process.stdout.write(`cachix-agent: ${line}\n`);
}

function parseArgs(argv: readonly string[]): { name: string; profile: string; host: string; lockDir: string } {
  const positional: string[] = [];
  let host = 'https://cachix.org';
  let lockDir = '/tmp';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--host') host = argv[++i] ?? host;
    else if (a === '--lock-dir') lockDir = argv[++i] ?? lockDir;
    else positional.push(a);
  }
  const [name, profile] = positional;
  if (!name) throw new Error('usage: agent NAME [PROFILE] --host URL');
  return { name, profile: profile ?? 'system', host, lockDir };
}

const args = parseArgs(process.argv.slice(2));
const token = process.env['CACHIX_AGENT_TOKEN'] ?? '';
const queue: DeploymentCommand[] = [];
let running = false;
let agentId: string | null = null;
let cache: CacheCommand | null = null;

function runNext(): void {
  if (running || agentId === null) return;
  const deployment = queue.shift();
  if (!deployment) return;
  running = true;
  const input: SubprocessInput = {
    host: args.host,
    agentName: args.name,
    agentId,
    agentToken: token,
    profile: args.profile,
    lockDir: args.lockDir,
    deployment,
    cache,
  };
  say(`deploying ${deployment.storePath} (deployment ${deployment.id}, #${deployment.index})`);
  const script = join(fileURLToPath(new URL('.', import.meta.url)), 'deployment.js');
  // Detached: its own session, so it outlives this process (a NixOS switch restarts the agent's unit).
  const child = spawn(process.execPath, [script], { detached: true, stdio: ['pipe', 'inherit', 'inherit'], env: { ...process.env, CACHIX_AGENT_TOKEN: '' } });
  child.stdin.end(JSON.stringify(input));
  child.on('exit', (code) => {
    say(`deployment process ${deployment.id} exited (${code ?? 'signal'})`);
    running = false;
    runNext();
  });
}

function onFrame(text: string): void {
  let frame: { method?: unknown; command?: { tag?: unknown; contents?: unknown } };
  try {
    frame = JSON.parse(text) as typeof frame;
  } catch {
    say('ignored a frame that is not JSON');
    return;
  }
  const contents = frame.command?.contents as Record<string, unknown> | undefined;
  if (frame.method === 'AgentRegistered' && contents) {
    agentId = String(contents['id']);
    cache = (contents['cache'] ?? null) as CacheCommand | null;
    say(`registered as ${agentId} (cache: ${cache ? cache.cacheName : 'none'})`);
    runNext();
  } else if (frame.method === 'Deployment' && contents) {
    if (agentId === null) return say('ignored a Deployment before AgentRegistered');
    queue.push(contents as unknown as DeploymentCommand);
    runNext();
  }
}

function connect(): void {
  const socket = new WebSocket(wsUrl(args.host, '/ws'), { headers: agentHeaders(token, args.name), perMessageDeflate: false });
  let lastPong = Date.now();
  let ping: NodeJS.Timeout | undefined;
  let retried = false;
  const retry = (why: string) => {
    if (retried) return;
    retried = true;
    clearInterval(ping);
    say(`${why}; reconnecting in 1s`);
    setTimeout(connect, RECONNECT_MS);
  };
  socket.on('open', () => {
    say('connected');
    ping = setInterval(() => {
      if (Date.now() - lastPong > PONG_TIMEOUT_MS) {
        socket.terminate();
        return;
      }
      socket.ping();
    }, PING_MS);
  });
  socket.on('pong', () => (lastPong = Date.now()));
  socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
    if (!isBinary) onFrame(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8'));
  });
  socket.on('unexpected-response', (_req, res) => {
    retry(`server answered the upgrade with HTTP ${res.statusCode}`);
    socket.terminate();
  });
  socket.on('error', (err) => retry(`connection error: ${err.message}`));
  socket.on('close', (code, reason) => {
    if (code === 1000) {
      clearInterval(ping);
      say(`server closed the connection normally (1000: ${reason.toString()}); exiting`);
      process.exit(0);
    }
    retry(`connection closed (${code}: ${reason.toString()})`);
  });
}

connect();
