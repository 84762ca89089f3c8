/**
 * A body idle timeout on every route: a request whose body stops arriving for
 * `idleMs` fails with DROVER_ERR_REQUEST_TIMEOUT (408) and its connection is
 * closed, so a half-sent body cannot hold a socket (and a parser) forever.
 *
 * It is a `preParsing` hook that passes the body through a stream resetting a
 * timer on every chunk; bodiless requests (GET, websocket upgrades, SSE) are
 * left alone. Cache uploads keep their own, shorter idle limit on top.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { DroverError } from '@drover/protocol';

/** Default of `request_body_idle_timeout`. */
export const DEFAULT_BODY_IDLE_MS = 30_000;

function hasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/** Passes bytes through unchanged; fails with a 408 DroverError when none came for `idleMs`. */
class IdleGuard extends Transform {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly idleMs: number) {
    super();
    this.arm();
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.destroy(new DroverError('DROVER_ERR_REQUEST_TIMEOUT', `the request body stopped arriving: nothing for ${this.idleMs} ms`));
    }, this.idleMs);
  }

  /** No timeout any more (the response is sent, or the body is complete). */
  disarm(): void {
    clearTimeout(this.timer);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.arm();
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.disarm();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.disarm();
    callback(error);
  }
}

export function installBodyIdleTimeout(app: FastifyInstance, idleMs: number): void {
  app.addHook('preParsing', async (request, reply, payload: Readable) => {
    if (!hasBody(request.headers)) return payload;
    const guard = new IdleGuard(idleMs);
    payload.on('error', (err) => guard.destroy(err));
    reply.raw.on('close', () => guard.disarm());
    // Whoever reads the body sees the error too; this listener keeps an unread body from failing the process.
    guard.on('error', (err) => {
      // The rest of a stalled body will not be read: answer, then close the connection.
      if (err instanceof DroverError && !reply.sent) void reply.header('connection', 'close');
    });
    return payload.pipe(guard);
  });
}
