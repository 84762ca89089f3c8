/**
 * A fake agent for the server's tests: a real websocket to the agent
 * endpoint that says hello, queues what the server sends (decoded with the
 * protocol's decoder) and reports how the server closed it; and upgrades
 * expected to be refused, with their HTTP status and error body.
 */
import type { IncomingHttpHeaders } from 'node:http';
import WebSocket from 'ws';
import { decodeServerMessage, PROTOCOL_VERSION, type HelloMessage, type ServerMessage } from '@drover/protocol';
import { wsText } from '@drover/test-support';

/** How long a fake agent waits for a message or a close by default. */
export const WAIT_MS = 10_000;

export function hello(agent: string, overrides: Partial<HelloMessage> = {}): HelloMessage {
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    agent,
    version: '0.0.0-test',
    system: 'x86_64-linux',
    profile: '/nix/var/nix/profiles/system',
    hostname: `${agent}.test`,
    ...overrides,
  };
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

/** A websocket to the agent endpoint that queues what the server sends. */
export class AgentSocket {
  private readonly inbox: ServerMessage[] = [];
  private readonly waiters: (() => void)[] = [];
  readonly closed: Promise<Closed>;
  private isClosed = false;
  /** Frames the server sent that did not decode (should stay empty). */
  readonly undecodable: string[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const text = wsText(data);
      const decoded = decodeServerMessage(text);
      if (decoded.ok) this.inbox.push(decoded.message);
      else this.undecodable.push(`${decoded.error}: ${text}`);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        this.isClosed = true;
        this.wake();
        resolve({ code, reason: reason.toString() });
      });
    });
    socket.on('error', () => {
      /* reported through 'close' */
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Opens a socket with this token; rejects if the upgrade is refused. */
  static open(url: string, token: string): Promise<AgentSocket> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
      const agent = new AgentSocket(socket);
      socket.once('open', () => resolve(agent));
      socket.once('unexpected-response', (_req, res) => {
        reject(new Error(`upgrade refused with HTTP ${res.statusCode}`));
        res.resume();
        socket.terminate();
      });
      socket.once('error', reject);
    });
  }

  /** Opens a socket, says hello and waits for `registered`. */
  static async register(
    url: string,
    token: string,
    agent: string,
    overrides: Partial<HelloMessage> = {},
  ): Promise<{ socket: AgentSocket; registered: Extract<ServerMessage, { type: 'registered' }> }> {
    const socket = await AgentSocket.open(url, token);
    socket.send(hello(agent, overrides));
    const registered = await socket.next('registered');
    return { socket, registered };
  }

  send(message: object | string): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next message of this type (earlier messages of other types stay queued). */
  async next<T extends ServerMessage['type']>(type: T, timeoutMs = WAIT_MS): Promise<Extract<ServerMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as Extract<ServerMessage, { type: T }>;
      if (this.isClosed) throw new Error(`socket closed while waiting for "${type}" (inbox: ${JSON.stringify(this.inbox)})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no "${type}" within ${timeoutMs} ms (inbox: ${JSON.stringify(this.inbox)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Messages received and not yet taken by next(). */
  pending(): readonly ServerMessage[] {
    return [...this.inbox];
  }

  /** Waits for the server to close the socket. */
  async closedWithin(timeoutMs = WAIT_MS): Promise<Closed> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket not closed within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes from our side (no-op when already closed). */
  close(): void {
    if (!this.isClosed) this.socket.terminate();
  }
}

/** Attempts an upgrade expected to be refused; resolves with the HTTP status and JSON body. */
export function refusedUpgrade(
  url: string,
  token: string | undefined,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: { code?: string; message?: string; hint?: string } }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => {
      socket.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    socket.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        socket.terminate();
        const text = Buffer.concat(chunks).toString();
        try {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as { code?: string } });
        } catch {
          reject(new Error(`HTTP ${res.statusCode} with a body that is not JSON: ${text}`));
        }
      });
    });
    socket.on('error', (err) => reject(err));
  });
}
