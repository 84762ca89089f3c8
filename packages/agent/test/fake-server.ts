/**
 * A fake Drover server for agent tests: a websocket server on 127.0.0.1:0
 * that answers `hello` with `registered`, records every frame the agent
 * sends, and lets a test answer frames (ack them, close the connection)
 * and send orders.
 */
import { once } from 'node:events';
import { WebSocketServer, type WebSocket } from 'ws';
import { AGENT_WS_PATH, decodeAgentMessage, encodeMessage, type AgentMessage, type ServerMessage } from '@drover/protocol';
import { frameText } from '../src/frame-text.js';

export interface FakeServer {
  readonly url: string;
  /** Every frame received (hello included), in order. */
  readonly frames: AgentMessage[];
  /** How many connections sent `hello`. */
  readonly registrations: () => number;
  /** Sends to the current connection. */
  send(message: ServerMessage): void;
  /** Ends the current connection abruptly (the agent reconnects). */
  dropConnection(): void;
  /** Called after `registered` was sent on a connection. */
  onRegistered: (socket: WebSocket) => void;
  /** Called for each frame after `hello`, with the connection it came on. */
  onFrame: (message: AgentMessage, socket: WebSocket) => void;
  /** Resolves with the first frame received from now on that `match` accepts. */
  next(match: (message: AgentMessage) => boolean, timeoutMs?: number): Promise<AgentMessage>;
  close(): Promise<void>;
}

export async function fakeServer(): Promise<FakeServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: AGENT_WS_PATH });
  await once(wss, 'listening');
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  const frames: AgentMessage[] = [];
  const waiters: { match: (m: AgentMessage) => boolean; resolve: (m: AgentMessage) => void }[] = [];
  let current: WebSocket | null = null;
  let registrations = 0;
  const server: FakeServer = {
    url: `http://127.0.0.1:${address.port}`,
    frames,
    registrations: () => registrations,
    send: (message) => current?.send(encodeMessage(message)),
    dropConnection: () => current?.terminate(),
    onFrame: () => {},
    onRegistered: () => {},
    next: (match, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no matching frame from the agent in time')), timeoutMs);
        waiters.push({
          match,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      }),
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    },
  };
  wss.on('connection', (socket) => {
    current = socket;
    socket.on('message', (data) => {
      const decoded = decodeAgentMessage(frameText(data));
      if (!decoded.ok) throw new Error(`the agent sent an invalid frame: ${decoded.error}`);
      const message = decoded.message;
      frames.push(message);
      for (const [i, waiter] of waiters.entries()) {
        if (!waiter.match(message)) continue;
        waiters.splice(i, 1);
        waiter.resolve(message);
        break;
      }
      if (message.type !== 'hello') return server.onFrame(message, socket);
      registrations++;
      socket.send(
        encodeMessage({ type: 'registered', agentId: '00000000-0000-4000-8000-000000000001', workspace: 'default', cache: null, pingIntervalMs: 60_000 }),
      );
      server.onRegistered(socket);
    });
  });
  return server;
}
