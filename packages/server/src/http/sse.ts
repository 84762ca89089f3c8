/**
 * A server-sent event stream on a hijacked reply: headers that defeat proxy
 * buffering, `send(event, data)` with backpressure (`drained()` waits until
 * the socket takes more), a keep-alive comment, a bounded lifetime, and one
 * cleanup path whether the client leaves, the stream ends, its credential
 * ends (token revoked, session signed out or expired) or the server shuts
 * down. A stream ended for its lifetime or credential sends no final event:
 * the client reconnects, and the reconnect checks the credential again.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Credential } from '../auth/access.js';
import type { ServerContext } from '../context.js';

const HEARTBEAT_MS = 15_000;

/** How long a stream stays open by default before the server ends it (the client reconnects). */
export const DEFAULT_MAX_STREAM_MS = 60 * 60 * 1000;

export interface EventStream {
  /** Queues one event; false when the socket's buffer is full and the sender should wait for `drained()`. */
  send(event: string, data: unknown, id?: string | number): boolean;
  /** Settles once the socket takes more (at once when it already does) or the stream closed. */
  drained(): Promise<void>;
  /** Ends the stream (after a final event, if any was sent). */
  end(): void;
  readonly closed: boolean;
}

export interface EventStreamOptions {
  /** What the request authenticated with; the stream ends when it does. */
  readonly credential: Credential;
  /** Runs once, however the stream ends. */
  readonly onCleanup: () => void;
}

/** The longest delay setTimeout takes (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How long this stream may stay open: the server's bound, or less when the session expires sooner. */
function lifetimeMs(ctx: ServerContext, credential: Credential): number {
  const untilExpiry = credential.kind === 'session' ? Date.parse(credential.expiresAt) - Date.now() : Infinity;
  return Math.max(0, Math.min(ctx.maxStreamMs, untilExpiry, MAX_TIMER_MS));
}

export function openEventStream(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, options: EventStreamOptions): EventStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let closed = false;
  const waiting = new Set<() => void>();
  const wake = () => {
    for (const fn of [...waiting]) fn();
    waiting.clear();
  };
  // A keep-alive is only needed when nothing is queued; a full buffer needs none.
  const heartbeat = setInterval(() => {
    if (!closed && !res.writableNeedDrain) res.write(': keepalive\n\n');
  }, HEARTBEAT_MS);
  const lifetime = setTimeout(() => stream.end(), lifetimeMs(ctx, options.credential));
  // On shutdown, end without a final event: clients reconnect to another replica.
  const stopOnClose = ctx.watcher.onClose(() => stream.end());
  const stopOnCredentialEnd = ctx.watcher.onCredentialEnd(options.credential, () => {
    request.log.info({ credential: `${options.credential.kind}:${options.credential.id}` }, 'event stream ended: its credential ended');
    // Nothing more reaches the client, not even what is still queued.
    cleanup();
    res.destroy();
  });
  const cleanup = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    clearTimeout(lifetime);
    stopOnClose();
    stopOnCredentialEnd();
    res.off('drain', wake);
    wake();
    options.onCleanup();
  };
  res.on('drain', wake);
  request.raw.on('close', cleanup);
  res.on('close', cleanup);
  const stream: EventStream = {
    send(event, data, id) {
      if (closed) return false;
      return res.write(`${id === undefined ? '' : `id: ${String(id)}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    drained() {
      if (closed || !res.writableNeedDrain) return Promise.resolve();
      return new Promise((resolve) => waiting.add(resolve));
    },
    end() {
      cleanup();
      res.end();
    },
    get closed() {
      return closed;
    },
  };
  return stream;
}
