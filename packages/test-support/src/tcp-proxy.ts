/**
 * A TCP proxy for tests and benchmarks (netem and network namespaces are not
 * available everywhere): added latency, an optional bandwidth limit, and a
 * switchable network fault — `cut('reset')` drops every connection and resets
 * new ones, `cut('blackhole')` keeps connections open but lets no byte
 * through (a silent partition: only the peers' own timeouts notice),
 * `restore()` lets new connections through again.
 *
 * Each direction is one FIFO queue drained by a single timer, so bytes can
 * never overtake each other. (One `setTimeout` per chunk does not keep the
 * order: a timer's expiry is libuv's cached loop time plus the delay, so a
 * chunk whose delay was computed one millisecond shorter by `Date.now()` can
 * fire before an earlier one — which corrupted HTTP streams and stalled
 * `drover push` through the benchmark's first proxy.) A half-close travels
 * behind the data sent before it; a reset or error closes both sides at once.
 * A queue holding more than 1 MiB pauses its sender until it drains, so a
 * bandwidth limit slows the sender instead of buffering everything.
 *
 * Used by the cache benchmark (as a separate process: its pushes block the
 * benchmark's own event loop), the end-to-end test of `drover push`, and the
 * fault-injection tests.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** `reset`: existing connections are destroyed, new ones reset at once. `blackhole`: connections stay open, nothing is forwarded. */
export type CutMode = 'reset' | 'blackhole';

export interface TcpProxyOptions {
  /** Port to listen on (default 0: any free port). */
  readonly listenPort?: number;
  /** Added round trip in ms (half in each direction; default 0). */
  readonly rttMs?: number;
  /** Bandwidth limit per direction and connection, in bytes per second (default: none). */
  readonly bytesPerSecond?: number;
}

export interface TcpProxy {
  readonly port: number;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Connections accepted so far (also those reset or black-holed by a cut). */
  connections(): number;
  /** Bytes forwarded so far, both directions. */
  bytes(): number;
  /** Cuts the network (see CutMode); black-holed connections stay black-holed after restore(). */
  cut(mode: CutMode): void;
  /** New connections are forwarded again. */
  restore(): void;
  /** Changes the added round trip / bandwidth limit for data queued from now on. */
  shape(options: Pick<TcpProxyOptions, 'rttMs' | 'bytesPerSecond'>): void;
  close(): Promise<void>;
}

interface Item {
  readonly at: number;
  readonly chunk: Buffer | null;
}

interface Shape {
  rttMs: number;
  bytesPerSecond: number | undefined;
}

const HIGH_WATER = 1 << 20;

/** Forwards `from` to `to` in order with the shape's delay and rate; `null` in the queue is the half-close. */
function forward(from: Socket, to: Socket, shape: Shape, link: Link): void {
  const queue: Item[] = [];
  let queued = 0;
  let lastAt = 0;
  let timer: NodeJS.Timeout | undefined;
  const drain = () => {
    timer = undefined;
    const now = performance.now();
    for (let head = queue[0]; head !== undefined && head.at <= now; head = queue[0]) {
      queue.shift();
      const { chunk } = head;
      if (link.dead) continue;
      if (chunk === null) to.end();
      else {
        queued -= chunk.length;
        link.bytes += chunk.length;
        to.write(chunk);
      }
    }
    if (queued < HIGH_WATER && from.isPaused()) from.resume();
    const next = queue[0];
    if (next !== undefined) timer = setTimeout(drain, Math.max(1, Math.ceil(next.at - now)));
  };
  const push = (chunk: Buffer | null) => {
    if (link.dead) return;
    const now = performance.now();
    const size = chunk?.length ?? 0;
    const at = Math.max(now + shape.rttMs / 2, shape.bytesPerSecond === undefined ? 0 : Math.max(now, lastAt) + (size * 1000) / shape.bytesPerSecond);
    lastAt = at;
    queue.push({ at, chunk });
    queued += size;
    if (queued >= HIGH_WATER) from.pause();
    timer ??= setTimeout(drain, Math.max(1, Math.ceil(at - now)));
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => push(null));
  // A black-holed link does not pass a close on either: the peer never hears of it.
  from.on('close', () => {
    if (link.dead || from.readableEnded) return;
    clearTimeout(timer);
    to.destroy();
  });
  from.on('error', () => {
    if (!link.dead) to.destroy();
  });
}

/** One proxied connection: `dead` once black-holed (bytes are then dropped). */
interface Link {
  dead: boolean;
  bytes: number;
  readonly sockets: readonly Socket[];
}

/** Listens on 127.0.0.1 and proxies every connection to 127.0.0.1:`targetPort`. */
export function startTcpProxy(targetPort: number, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const shape: Shape = { rttMs: options.rttMs ?? 0, bytesPerSecond: options.bytesPerSecond };
  const links = new Set<Link>();
  const held = new Set<Socket>();
  let accepted = 0;
  let forwardedBefore = 0;
  let mode: CutMode | null = null;
  const hold = (s: Socket) => {
    held.add(s);
    s.on('error', () => undefined);
    s.on('close', () => held.delete(s));
    s.resume();
  };
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    accepted++;
    if (mode === 'reset') {
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    if (mode === 'blackhole') {
      hold(client);
      return;
    }
    const upstream = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
    const link: Link = { dead: false, bytes: 0, sockets: [client, upstream] };
    links.add(link);
    client.on('close', () => {
      forwardedBefore += link.bytes;
      link.bytes = 0;
      links.delete(link);
    });
    forward(client, upstream, shape, link);
    forward(upstream, client, shape, link);
  });
  const cut = (how: CutMode) => {
    mode = how;
    for (const link of links) {
      if (how === 'reset') {
        for (const s of link.sockets) s.resetAndDestroy();
      } else {
        link.dead = true;
        for (const s of link.sockets) hold(s);
      }
    }
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? 0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        url: `http://127.0.0.1:${port}`,
        connections: () => accepted,
        bytes: () => forwardedBefore + [...links].reduce((sum, l) => sum + l.bytes, 0),
        cut,
        restore: () => {
          mode = null;
        },
        shape: (next) => {
          if (next.rttMs !== undefined) shape.rttMs = next.rttMs;
          if ('bytesPerSecond' in next) shape.bytesPerSecond = next.bytesPerSecond;
        },
        close: () =>
          new Promise<void>((done) => {
            for (const link of links) for (const s of link.sockets) s.destroy();
            for (const s of held) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
