/**
 * The confirm step (runner/confirm.ts) against a real HTTP server: an
 * answer passes, a 401 ends at once, and a server that never answers (or
 * is not there) fails when the deadline passes — not after a request's
 * own timeout.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serverReachable } from '../src/runner/confirm.js';

let server: Server;
let base = '';
let mode: 'ok' | 'unauthorized' | 'silent' = 'ok';

before(async () => {
  server = createServer((req, res) => {
    if (mode === 'silent') return;
    res.statusCode = mode === 'ok' && req.headers.authorization === 'Bearer t0k' ? 204 : 401;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

test('an answer with the token passes; a 401 fails at once', { timeout: 10_000 }, async () => {
  mode = 'ok';
  assert.equal(await serverReachable(base, 't0k', 5000), null);
  const started = Date.now();
  assert.equal(await serverReachable(base, 'wrong', 5000), 'server answered HTTP 401');
  assert.ok(Date.now() - started < 2000);
});

test('a server that never answers fails at the deadline', { timeout: 10_000 }, async () => {
  mode = 'silent';
  const started = Date.now();
  const reason = await serverReachable(base, 't0k', 1500);
  const took = Date.now() - started;
  assert.match(reason ?? '', /^the server was not reached within the confirm timeout of 1\.5s after activation \(.*\/agent\/check: no answer\)$/);
  assert.ok(took >= 1400 && took < 4000, `took ${String(took)} ms`);
});

test('nothing listening fails at the deadline naming the error', { timeout: 10_000 }, async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const reason = await serverReachable(`http://127.0.0.1:${String(port)}`, 't0k', 1000);
  assert.match(reason ?? '', /within the confirm timeout of 1\.0s .*ECONNREFUSED/);
});
