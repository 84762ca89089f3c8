/**
 * A server-sent event stream on a hijacked reply: headers that defeat proxy
 * buffering, `send(event, data)`, a keep-alive comment, and one cleanup path
 * whether the client leaves, the stream ends or the server shuts down.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.js';

const HEARTBEAT_MS = 15_000;

export interface EventStream {
  send(event: string, data: unknown, id?: string | number): void;
  /** Ends the stream (after a final event, if any was sent). */
  end(): void;
  readonly closed: boolean;
}

export function openEventStream(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, onCleanup: () => void): EventStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let closed = false;
  const heartbeat = setInterval(() => !closed && res.write(': keepalive\n\n'), HEARTBEAT_MS);
  // On shutdown, end without a final event: clients reconnect to another replica.
  const stopOnClose = ctx.watcher.onClose(() => stream.end());
  const cleanup = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    stopOnClose();
    onCleanup();
  };
  request.raw.on('close', cleanup);
  const stream: EventStream = {
    send(event, data, id) {
      if (!closed) res.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
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
