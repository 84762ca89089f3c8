/** The TCP proxy: bytes in order through latency and a bandwidth limit, and what cut('reset'), cut('blackhole') and restore() do to connections. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { startTcpProxy, type TcpProxy } from '../src/tcp-proxy.js';
import { Teardown } from '../src/teardown.js';

const teardown = new Teardown();
let echo: Server;
let echoPort: number;
let sinkParts: Buffer[][];

before(async () => {
  sinkParts = [];
  // Echoes every byte back and records what each connection sent; half-closes after the peer did.
  echo = createServer({ allowHalfOpen: true }, (s) => {
    const parts: Buffer[] = [];
    sinkParts.push(parts);
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      parts.push(c);
      s.write(c);
    });
    s.on('end', () => s.end());
  });
  await new Promise<void>((ok) => echo.listen(0, '127.0.0.1', ok));
  echoPort = (echo.address() as AddressInfo).port;
  teardown.add(() => new Promise((ok) => echo.close(() => ok(undefined))));
});
after(() => teardown.run());

async function proxyTo(options: Parameters<typeof startTcpProxy>[1] = {}): Promise<TcpProxy> {
  const proxy = await startTcpProxy(echoPort, options);
  teardown.add(() => proxy.close());
  return proxy;
}

/** Connects to the proxy; resolves once connected, with everything it receives collected. */
async function client(port: number): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<string> }> {
  const parts: Buffer[] = [];
  const socket = connect(port, '127.0.0.1');
  const closed = new Promise<string>((ok) => {
    let why = 'closed';
    socket.on('error', (e: NodeJS.ErrnoException) => (why = e.code ?? e.message));
    socket.on('close', () => ok(why));
  });
  socket.on('data', (c: Buffer) => parts.push(c));
  await new Promise<void>((ok, fail) => {
    socket.once('connect', ok);
    socket.once('error', fail);
  });
  teardown.add(async () => socket.destroy());
  return { socket, received: () => Buffer.concat(parts), closed };
}

function numbered(count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const b = Buffer.alloc(400);
    for (let j = 0; j < 100; j++) b.writeUInt32LE(i * 100 + j, j * 4);
    return b;
  });
}

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  return Promise.race([p, new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref())]);
}

test('every byte arrives in order through +20 ms of latency, and the half-close after them', { timeout: 20_000 }, async () => {
  const proxy = await proxyTo({ rttMs: 20 });
  const c = await client(proxy.port);
  const sent = numbered(3000);
  for (let i = 0; i < sent.length; i++) {
    c.socket.write(sent[i]!);
    if (i % 3 === 0) await new Promise((r) => setImmediate(r));
  }
  c.socket.end();
  assert.equal(await within(15_000, 'the echo to close', c.closed), 'closed');
  assert.ok(c.received().equals(Buffer.concat(sent)), 'bytes arrived out of order or incomplete');
  assert.equal(proxy.bytes(), 2 * 3000 * 400);
});

test('a bandwidth limit slows a transfer down (and keeps it whole)', { timeout: 20_000 }, async () => {
  const proxy = await proxyTo({ bytesPerSecond: 200_000 });
  const c = await client(proxy.port);
  const started = performance.now();
  c.socket.end(Buffer.concat(numbered(500)));
  await within(15_000, 'the echo to close', c.closed);
  const seconds = (performance.now() - started) / 1000;
  assert.equal(c.received().length, 200_000);
  // 200 kB each way at 200 kB/s per direction: about 1 s (both directions overlap).
  assert.ok(seconds >= 0.8, `took ${seconds.toFixed(2)} s`);
});

test("cut('reset') drops open connections and resets new ones; restore() lets new ones through", { timeout: 20_000 }, async () => {
  const proxy = await proxyTo();
  const c = await client(proxy.port);
  c.socket.write('hello');
  await within(
    5000,
    'the echo',
    waitUntil(() => c.received().length === 5),
  );
  proxy.cut('reset');
  assert.equal(await within(5000, 'the open connection to drop', c.closed), 'ECONNRESET');
  await assert.rejects(within(5000, 'the new connection to be reset', client(proxy.port)), { code: 'ECONNRESET' });
  proxy.restore();
  const again = await client(proxy.port);
  again.socket.write('back');
  await within(
    5000,
    'the echo after restore',
    waitUntil(() => again.received().toString() === 'back'),
  );
  assert.equal(proxy.connections(), 3);
});

test("cut('blackhole') keeps connections open but silent; restore() forwards new connections only", { timeout: 20_000 }, async () => {
  const proxy = await proxyTo();
  const before = sinkParts.length;
  const c = await client(proxy.port);
  c.socket.write('one');
  await within(
    5000,
    'the echo',
    waitUntil(() => c.received().length === 3),
  );
  proxy.cut('blackhole');
  c.socket.write('lost');
  const silent = await client(proxy.port);
  silent.socket.write('nobody hears');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(c.received().toString(), 'one', 'nothing comes back through a black hole');
  assert.equal(silent.received().length, 0);
  assert.equal(sinkParts.length, before + 1, 'a black-holed connection never reaches the target');
  assert.equal(Buffer.concat(sinkParts[before]!).toString(), 'one', 'nothing reaches the target either');
  // The peer closing is not passed on: the target's side stays open, as after a real partition.
  assert.equal(c.socket.destroyed || silent.socket.destroyed, false);
  proxy.restore();
  const again = await client(proxy.port);
  again.socket.write('back');
  await within(
    5000,
    'the echo after restore',
    waitUntil(() => again.received().toString() === 'back'),
  );
  c.socket.write('still lost');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(c.received().toString(), 'one', 'a connection black-holed before restore() stays black-holed');
});

async function waitUntil(probe: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !probe(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!probe()) throw new Error('condition not reached');
}
