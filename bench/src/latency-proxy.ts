/**
 * A TCP proxy that adds latency (netem is not available here): every chunk
 * is held for half the round trip in each direction, then written IN ORDER.
 *
 * Each direction is one FIFO queue drained by a single timer, so bytes can
 * never overtake each other. (One `setTimeout` per chunk does not keep the
 * order: a timer's expiry is libuv's cached loop time plus the delay, so a
 * chunk whose delay was computed one millisecond shorter by `Date.now()` can
 * fire before an earlier one — which corrupted HTTP streams and stalled
 * `drover push` through the old proxy.) A half-close travels behind the data
 * sent before it; a reset or error closes both sides at once.
 *
 * Used by the cache benchmark (as a separate process: its pushes block the
 * benchmark's own event loop) and by the end-to-end test of `drover push`.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface LatencyProxy {
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

interface Item {
  readonly at: number;
  readonly chunk: Buffer | null;
}

/** Forwards `from` to `to` with `delayMs` of one-way latency, in order; `null` in the queue is the half-close. */
function forward(from: Socket, to: Socket, delayMs: number): void {
  const queue: Item[] = [];
  let timer: NodeJS.Timeout | undefined;
  const drain = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0]!.at <= now) {
      const { chunk } = queue.shift()!;
      if (chunk === null) to.end();
      else to.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(drain, Math.max(1, Math.ceil(queue[0]!.at - now)));
  };
  const push = (chunk: Buffer | null) => {
    queue.push({ at: performance.now() + delayMs, chunk });
    timer ??= setTimeout(drain, Math.max(1, Math.ceil(delayMs)));
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => push(null));
  from.on('close', () => {
    if (from.readableEnded) return;
    clearTimeout(timer);
    to.destroy();
  });
  from.on('error', () => to.destroy());
}

/** Listens on 127.0.0.1:`listenPort` (0: any free port) and proxies to 127.0.0.1:`targetPort` with `rttMs` of added round trip. */
export function startLatencyProxy(targetPort: number, listenPort: number, rttMs: number): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    accepted++;
    const upstream = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
    track(client);
    track(upstream);
    forward(client, upstream, rttMs / 2);
    forward(upstream, client, rttMs / 2);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () =>
      resolve({
        port: (server.address() as { port: number }).port,
        connections: () => accepted,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}
