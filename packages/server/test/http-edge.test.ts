/**
 * The HTTP edge (issue 12 §9, §16): a session cookie with broken %-encoding
 * is no session (401, not a URIError 500); a request body that stops
 * arriving gets 408 DROVER_ERR_REQUEST_TIMEOUT within the configured idle
 * time and its connection is closed, on every route, while a slow body that
 * keeps coming is not cut.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { ERRORS, SESSION_COOKIE } from '@drover/protocol';
import { assertError } from './api-suite.js';
import { api, startTestServer, type TestServer } from './support.js';

/** What a raw socket received until the server closed it (or `timeoutMs` passed). */
function untilClosed(socket: Socket, timeoutMs: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve({ text, closed: false }), timeoutMs);
    socket.setEncoding('utf8').on('data', (c: string) => (text += c));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.on('error', () => {});
  });
}

function open(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

const IDLE_MS = 400;

describe('the HTTP edge', () => {
  let t: TestServer;
  let activate: string;
  before(async () => {
    t = await startTestServer('sqlite', { server: { requestBodyIdleMs: IDLE_MS } });
    activate = (await t.mint('activate')).token;
  });
  after(() => t.close());

  test('a session cookie with broken %-encoding is answered 401, not 500', async () => {
    for (const value of ['%E0%A4%A', '%', 'abc%zz']) {
      assertError(await api(t, 'GET', '/api/v1/session', { headers: { cookie: `${SESSION_COOKIE}=${value}` } }), 'DROVER_ERR_SESSION_EXPIRED');
      assertError(await api(t, 'GET', '/api/v1/workspaces', { headers: { cookie: `${SESSION_COOKIE}=${value}` } }), 'DROVER_ERR_SESSION_EXPIRED');
    }
  });

  test('half a JSON body, then silence: 408 with the code within the idle time, and the connection closed', async () => {
    const socket = await open(t.url);
    const body = JSON.stringify({ agents: { 'web-1': '/nix/store/00000000000000000000000000000000-x' } });
    const started = Date.now();
    socket.write(
      `POST /api/v1/activate HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${activate}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    const got = await untilClosed(socket, 10_000);
    const elapsed = Date.now() - started;
    socket.destroy();
    assert.ok(got.closed, `the server closed the connection (got ${JSON.stringify(got.text)})`);
    assert.match(got.text, /^HTTP\/1\.1 408 /);
    const json = JSON.parse(got.text.slice(got.text.indexOf('\r\n\r\n') + 4)) as { code: string; hint: string };
    assert.equal(json.code, 'DROVER_ERR_REQUEST_TIMEOUT');
    assert.equal(json.hint, ERRORS.DROVER_ERR_REQUEST_TIMEOUT.hint);
    assert.ok(elapsed >= IDLE_MS - 50 && elapsed < IDLE_MS + 3000, `answered after ${elapsed} ms`);
  });

  test('a chunked body that stops is cut the same way', async () => {
    const socket = await open(t.url);
    socket.write(
      `POST /api/v1/activate HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${activate}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\n`,
    );
    const got = await untilClosed(socket, 10_000);
    socket.destroy();
    assert.ok(got.closed);
    assert.match(got.text, /^HTTP\/1\.1 408 /);
    assert.match(got.text, /DROVER_ERR_REQUEST_TIMEOUT/);
  });

  test('a body that arrives slowly but keeps coming is read in full', async () => {
    const socket = await open(t.url);
    const body = JSON.stringify({ agents: { 'never-connected': '/nix/store/00000000000000000000000000000000-slow' } });
    // The agent is unknown: a 400 naming it shows that the whole body was parsed, not cut.
    socket.write(
      `POST /api/v1/activate HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${activate}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    const response = untilClosed(socket, 10_000);
    const step = Math.ceil(body.length / 6);
    for (let i = 0; i < body.length; i += step) {
      socket.write(body.slice(i, i + step));
      await new Promise((r) => setTimeout(r, IDLE_MS / 2));
    }
    const got = await response;
    socket.destroy();
    assert.doesNotMatch(got.text, /^HTTP\/1\.1 408 /, got.text);
    assert.match(got.text, /^HTTP\/1\.1 400 /);
    assert.match(got.text, /DROVER_ERR_UNKNOWN_AGENT/);
  });
});
