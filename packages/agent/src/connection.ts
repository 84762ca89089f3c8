/**
 * The agent's one outbound websocket, kept open forever.
 *
 * Reconnects with capped exponential backoff plus jitter. A rejected token
 * (HTTP 401/403 at the upgrade, or close codes 4401/4403) is logged once per
 * change with the server's own message, then retried slowly — a token may
 * be fixed server-side without restarting the agent. A silent server (no
 * ping for 2.5 intervals) is treated as gone.
 *
 * The backoff starts over only after a registered connection stayed open
 * `healthyAfterMs`, not at every registration: a server that closes right
 * after the agent's replay (a frame it cannot store) gets capped exponential
 * backoff instead of a reconnect a second forever.
 *
 * Replaced (close 4409: another process connected with this agent's name)
 * is not retried soon either: two agents with one name would take the name
 * from each other every second. One error line names the other host, and
 * the next attempt comes after `replacedRetryMs` (default 10 minutes) — or
 * never, when `onReplaced` says so (`drover agent --bootstrap`).
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import {
  AGENT_WS_PATH,
  CLOSE_CODES,
  decodeServerMessage,
  encodeMessage,
  ERRORS,
  type ErrorCode,
  MAX_FRAME_BYTES,
  type AgentMessage,
  type HelloMessage,
  type RegisteredMessage,
  type ServerMessage,
} from '@drover/protocol/wire';
import { Backoff, retryAfterMs } from './backoff.js';
import { frameText } from './frame-text.js';

export interface ConnectionOptions {
  readonly server: string;
  /** Called before every connection attempt, so a token file fixed on disk is picked up. */
  readonly token: () => string;
  /** Built again for every connection attempt (it carries the latest self-check problems). */
  readonly hello: () => HelloMessage;
  readonly log: Logger;
  readonly onRegistered: (message: RegisteredMessage) => void;
  readonly onMessage: (message: Exclude<ServerMessage, RegisteredMessage>) => void;
  /** Delay after an authentication failure (default 60 s). */
  readonly authRetryMs?: number;
  readonly backoff?: { initialMs: number; maxMs: number };
  /** How long a registered connection must stay open to count as healthy (default 30 s). */
  readonly healthyAfterMs?: number;
  /** Delay after another connection of this agent's name replaced this one (default 10 min). */
  readonly replacedRetryMs?: number;
  /** Told when replaced, with the server's reason (naming the other host); returning true stops all reconnecting. */
  readonly onReplaced?: (reason: string) => boolean;
  /** Told about every close, before the next attempt is scheduled. */
  readonly onClosed?: (closed: ClosedConnection) => void;
}

/** A connection that ended. */
export interface ClosedConnection {
  readonly code: number;
  readonly reason: string;
  /** It got as far as `registered`. */
  readonly registered: boolean;
  /** It stayed registered at least `healthyAfterMs` (the backoff started over). */
  readonly healthy: boolean;
  /** Milliseconds until the next attempt. */
  readonly retryInMs: number;
}

/** Close codes that waiting will not fix, and the error code that explains each. */
const REFUSALS: Record<number, ErrorCode> = {
  [CLOSE_CODES.unauthorized]: 'DROVER_ERR_TOKEN_REVOKED',
  [CLOSE_CODES.forbidden]: 'DROVER_ERR_TOKEN_AGENT_MISMATCH',
  [CLOSE_CODES.protocolVersion]: 'DROVER_ERR_PROTOCOL_VERSION',
};

export function websocketUrl(server: string): string {
  const url = new URL(server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = url.pathname.replace(/\/$/, '') + AGENT_WS_PATH;
  return url.toString();
}

export class ServerConnection {
  private socket: WebSocket | null = null;
  private stopped = false;
  private registered = false;
  private registeredAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private silenceLimitMs = 75_000;
  private lastProblem = '';
  private readonly backoff: Backoff;

  constructor(private readonly opts: ConnectionOptions) {
    this.backoff = new Backoff(opts.backoff ?? { initialMs: 1000, maxMs: 60_000 });
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  start(): void {
    this.connect();
  }

  send(message: AgentMessage): boolean {
    if (!this.registered || this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(encodeMessage(message));
    return true;
  }

  /** Resolves once everything sent so far has left the process. */
  async flushed(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    for (let i = 0; i < 100 && socket.bufferedAmount > 0; i++) await new Promise((r) => setTimeout(r, 10));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchdog);
    this.socket?.close(1000, 'agent stopping');
  }

  /** Logs a problem at error level once, then at debug while it persists. */
  private problem(text: string): void {
    if (text !== this.lastProblem) this.opts.log.error(text);
    else this.opts.log.debug(text);
    this.lastProblem = text;
  }

  private connect(): void {
    if (this.stopped) return;
    const url = websocketUrl(this.opts.server);
    const socket = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.opts.token()}` },
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 15_000,
      perMessageDeflate: false,
    });
    this.socket = socket;
    let retryMs: number | null = null;

    socket.on('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body.length < 4096 ? (body += c) : undefined));
      res.on('end', () => {
        let detail = body.trim();
        try {
          const parsed = JSON.parse(body) as { code?: string; message?: string; hint?: string };
          detail = `${parsed.code}: ${parsed.message}${parsed.hint ? ` (${parsed.hint})` : ''}`;
        } catch {
          /* not JSON: show as is */
        }
        const auth = res.statusCode === 401 || res.statusCode === 403;
        // A busy server says when to come back (503 DROVER_ERR_AGENTS_FULL): then, without growing the backoff.
        const asked = res.statusCode === 503 ? retryAfterMs(res.headers['retry-after'], this.backoff.maxMs) : null;
        retryMs = auth ? (this.opts.authRetryMs ?? 60_000) : asked;
        this.problem(
          auth
            ? `the server rejected the agent token (HTTP ${res.statusCode}) — ${detail}; retrying in ${Math.round((retryMs ?? 0) / 1000)}s`
            : `server answered HTTP ${res.statusCode} instead of a websocket: ${detail}${asked === null ? '' : `; retrying in ${Math.round(asked / 1000)}s as it asked`}`,
        );
        socket.terminate();
      });
    });
    socket.on('open', () => {
      this.armWatchdog();
      socket.send(encodeMessage(this.opts.hello()));
    });
    socket.on('ping', () => this.armWatchdog());
    socket.on('message', (data, isBinary) => {
      this.armWatchdog();
      const decoded = isBinary ? { ok: false as const, error: 'binary frame' } : decodeServerMessage(frameText(data));
      if (!decoded.ok) {
        this.opts.log.error({ error: decoded.error }, 'server sent an invalid frame; reconnecting');
        socket.close(CLOSE_CODES.badFrame, decoded.error.slice(0, 120));
        return;
      }
      const message = decoded.message;
      if (message.type === 'registered') {
        this.registered = true;
        this.registeredAt = Date.now();
        this.silenceLimitMs = Math.round(message.pingIntervalMs * 2.5);
        if (this.lastProblem) this.opts.log.info('connection restored');
        this.lastProblem = '';
        this.opts.log.info({ workspace: message.workspace, cache: message.cache?.substituter ?? null }, 'registered with the server');
        this.handle(() => this.opts.onRegistered(message), message.type);
        return;
      }
      this.handle(() => this.opts.onMessage(message), message.type);
    });
    socket.on('error', (err) => {
      if (retryMs === null) this.problem(`cannot connect to ${url}: ${err.message}`);
    });
    socket.on('close', (code, reasonBuf) => {
      clearTimeout(this.watchdog);
      const wasRegistered = this.registered;
      const healthy = wasRegistered && Date.now() - this.registeredAt >= (this.opts.healthyAfterMs ?? 30_000);
      if (healthy) this.backoff.reset();
      this.registered = false;
      if (this.socket === socket) this.socket = null;
      if (this.stopped) return;
      const reason = reasonBuf.toString();
      const refusal = REFUSALS[code];
      if (code === CLOSE_CODES.replaced) {
        if (this.opts.onReplaced?.(reason)) {
          this.stopped = true;
          return;
        }
        retryMs = this.opts.replacedRetryMs ?? 600_000;
        this.problem(
          `another agent connected with this agent's name and replaced it (${code} DROVER_ERR_AGENT_REPLACED): ${reason} — ${ERRORS.DROVER_ERR_AGENT_REPLACED.hint} Retrying in ${Math.round(retryMs / 1000)}s`,
        );
      } else if (refusal) {
        retryMs = this.opts.authRetryMs ?? 60_000;
        this.problem(`the server closed the connection (${code} ${refusal}): ${reason} — ${ERRORS[refusal].hint} Retrying in ${Math.round(retryMs / 1000)}s`);
      } else if (wasRegistered) {
        this.opts.log.warn({ code, reason }, 'disconnected from the server; reconnecting');
      }
      const retryInMs = retryMs ?? this.backoff.next();
      this.handle(() => this.opts.onClosed?.({ code, reason, registered: wasRegistered, healthy, retryInMs }), 'close');
      this.schedule(retryInMs);
    });
  }

  /** Runs a handler of the agent's: whatever it throws is logged, never fatal to the connection. */
  private handle(run: () => void, what: string): void {
    try {
      run();
    } catch (err) {
      this.opts.log.error({ error: err instanceof Error ? err.message : String(err), message: what }, 'handling a server message failed');
    }
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }

  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.opts.log.warn(`no ping from the server for ${Math.round(this.silenceLimitMs / 1000)}s; reconnecting`);
      this.socket?.terminate();
    }, this.silenceLimitMs);
  }
}
