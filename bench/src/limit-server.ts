/**
 * The limit the fleet rows are compared with, measured in the same run: a
 * minimal `ws` server speaking just enough of the agent protocol for the
 * same load generator (`load.ts`) — `hello` → `registered`, and on
 * `POST /api/v1/activate` one `deploy` frame, encoded once, broadcast to
 * every socket — with no database, no token check, no frame validation.
 * With BENCH_LIMIT_WORKERS > 1 it runs that many node:cluster workers on one
 * port and the POST's worker relays the broadcast through the primary over
 * IPC, as `drover server --workers N` relays its bus. Prints
 * `limit server ready at URL` once every worker listens. Run by fleet.ts;
 * not a server for anything else.
 */
import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { AGENT_WS_PATH, encodeMessage, MAX_FRAME_BYTES, type ServerMessage } from '@drover/protocol';
import { wsText } from '@drover/test-support';

const port = Number(process.env['BENCH_LIMIT_PORT'] ?? '0');
const workers = Number(process.env['BENCH_LIMIT_WORKERS'] ?? '1');

interface BroadcastMessage {
  readonly limit: 'broadcast';
  readonly storePath: string;
}

function isBroadcast(m: unknown): m is BroadcastMessage {
  return typeof m === 'object' && m !== null && (m as { limit?: unknown }).limit === 'broadcast';
}

/** One deploy frame for everyone: the floor of what a fan-out can cost. */
function deployFrame(storePath: string): string {
  const message: ServerMessage = {
    type: 'deploy',
    deployment: { id: randomUUID(), index: 1, storePath, rollbackScript: null, cache: null, wantDiff: true },
  };
  return encodeMessage(message);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => ok(Buffer.concat(parts).toString('utf8')));
    req.on('error', fail);
  });
}

/** The first store path of a deploy.json body. */
function firstStorePath(body: string): string {
  const spec = JSON.parse(body) as { agents?: Record<string, string> };
  return Object.values(spec.agents ?? {})[0] ?? '/nix/store/00000000000000000000000000000000-limit';
}

function serve(): void {
  const sockets = new Set<WebSocket>();
  const replica = randomUUID();
  const broadcast = (storePath: string) => {
    const frame = deployFrame(storePath);
    for (const s of sockets) s.send(frame);
  };
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST' && req.url === '/api/v1/activate') {
      void readBody(req).then((body) => {
        const storePath = firstStorePath(body);
        if (cluster.isWorker) process.send?.({ limit: 'broadcast', storePath } satisfies BroadcastMessage);
        else broadcast(storePath);
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ activationId: randomUUID() }));
      });
      return;
    }
    if (req.method === 'GET' && req.url === '/api/v1/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ replica, agentsConnected: sockets.size }));
      return;
    }
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server: http, path: AGENT_WS_PATH, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  wss.on('connection', (socket) => {
    socket.on('message', (data) => {
      const frame = JSON.parse(wsText(data)) as { type?: unknown };
      if (frame.type !== 'hello') return;
      sockets.add(socket);
      socket.send(encodeMessage({ type: 'registered', agentId: randomUUID(), workspace: 'default', cache: null, pingIntervalMs: 30_000 }));
    });
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.terminate());
  });
  process.on('message', (m: unknown) => {
    if (isBroadcast(m)) broadcast(m.storePath);
  });
  http.listen(port, '127.0.0.1', () => {
    const address = http.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`;
    if (cluster.isWorker) process.send?.({ limit: 'listening', url });
    else process.stdout.write(`limit server ready at ${url}\n`);
  });
}

function primary(): void {
  let listening = 0;
  for (let i = 0; i < workers; i++) {
    const worker = cluster.fork();
    worker.on('message', (m: unknown) => {
      if (isBroadcast(m)) {
        for (const w of Object.values(cluster.workers ?? {})) w?.send(m);
      } else if (typeof m === 'object' && m !== null && (m as { limit?: unknown }).limit === 'listening' && ++listening === workers) {
        process.stdout.write(`limit server ready at ${(m as { url: string }).url}\n`);
      }
    });
  }
  const stop = () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGKILL');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (cluster.isPrimary && workers > 1) primary();
else serve();
