/**
 * Connection limits (http/connection-limits.ts): the open-files limit read
 * from /proc/PID/limits, the caps it gives, a capped server that closes the
 * connections past the cap and warns once, and `drover server` capped by its
 * own limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { agentSocketCap, capConnections, connectionCap, openFilesLimitFrom, OPEN_FILES_RESERVE } from '../src/http/connection-limits.js';
import { startTestServer } from './support.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max processes             95543                95543                processes
Max open files            20000                524288               files
Max locked memory         8388608              8388608              bytes
`;

test('the soft open-files limit is read; unlimited or missing gives none', () => {
  assert.equal(openFilesLimitFrom(LIMITS), 20_000);
  assert.equal(openFilesLimitFrom(LIMITS.replace('20000     ', 'unlimited ')), null);
  assert.equal(openFilesLimitFrom('Limit  Soft Limit\n'), null);
});

test('the cap leaves the reserve, and at most a quarter of a small limit, for other files', () => {
  assert.equal(connectionCap(20_000), 20_000 - OPEN_FILES_RESERVE);
  assert.equal(connectionCap(256), 192);
  assert.equal(connectionCap(1), 1);
  // Agents stop short of the cap: room for the API, the web UI and the cache.
  assert.equal(agentSocketCap(19_000), 18_500);
  assert.equal(agentSocketCap(100), 90);
});

test('a capped server closes the connections past its cap and warns once', async (t) => {
  const lines: string[] = [];
  const log = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  const server = createServer((socket) => socket.on('error', () => {}));
  assert.equal(capConnections(server, log, 40), 30);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  const clients: Socket[] = [];
  t.after(() => {
    for (const c of clients) c.destroy();
    server.close();
  });
  const closed = new Set<number>();
  for (let i = 0; i < 35; i++) {
    const client = connect(address.port, '127.0.0.1');
    client.on('error', () => {});
    client.on('close', () => closed.add(i));
    clients.push(client);
    await once(client, 'connect');
  }
  for (let i = 0; i < 50 && closed.size < 5; i++) await sleep(20);
  assert.deepEqual(
    [...closed].sort((a, b) => a - b),
    [30, 31, 32, 33, 34],
  );
  const warnings = lines.filter((l) => l.includes('open-files limit'));
  assert.equal(warnings.length, 1, lines.join(''));
  assert.match(warnings[0]!, /LimitNOFILE/);
});

test('drover server caps its connections by its own open-files limit', async (t) => {
  const own = openFilesLimitFrom(await readFile('/proc/self/limits', 'utf8').catch(() => ''));
  if (own === null) {
    t.skip('no /proc/self/limits here (not Linux): the server runs uncapped');
    return;
  }
  const server = await startTestServer('sqlite');
  t.after(() => server.close());
  assert.equal(server.server.app.server.maxConnections, connectionCap(own));
  assert.equal(server.server.context.hub.refusal(), null);
});
