/**
 * holdFrames (http/held-frames.ts): frames a client sends before the route
 * attached its listener reach that listener, in order, once released; a
 * client that sends more than the limit meanwhile is cut off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket, { WebSocketServer } from 'ws';
import { CLOSE_CODES } from '@drover/protocol';
import { holdFrames } from '../src/http/held-frames.js';

/** A server whose handler looks something up for `lookupMs` before it listens, as the Cachix routes do. */
async function lateListener(lookupMs: number, limit?: number): Promise<{ url: string; received: string[]; close: () => Promise<void> }> {
  const received: string[] = [];
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  server.on('connection', (socket) => {
    const release = holdFrames(socket, limit);
    void sleep(lookupMs).then(() => {
      socket.on('message', (data) => received.push(Buffer.isBuffer(data) ? data.toString('utf8') : '(not one buffer)'));
      release();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        for (const c of server.clients) c.terminate();
        server.close(() => resolve());
      }),
  };
}

test('frames sent while the route was not listening yet reach its listener in order, and later ones follow', { timeout: 10_000 }, async () => {
  const server = await lateListener(100);
  const client = new WebSocket(server.url);
  try {
    await once(client, 'open');
    for (const line of ['first', 'second', 'third']) client.send(line);
    await sleep(200);
    client.send('after');
    await sleep(100);
    assert.deepEqual(server.received, ['first', 'second', 'third', 'after']);
  } finally {
    client.terminate();
    await server.close();
  }
});

test('more frames than the limit before the route is ready close the socket as a bad frame', { timeout: 10_000 }, async () => {
  const server = await lateListener(200, 2);
  const client = new WebSocket(server.url);
  try {
    await once(client, 'open');
    for (const line of ['1', '2', '3']) client.send(line);
    const [code] = (await once(client, 'close', { signal: AbortSignal.timeout(2000) })) as [number, Buffer];
    assert.equal(code, CLOSE_CODES.badFrame);
    await sleep(250);
    assert.deepEqual(server.received, [], 'nothing is handed over after the cut');
  } finally {
    client.terminate();
    await server.close();
  }
});
