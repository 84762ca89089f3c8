/**
 * The agent websocket refusing what it must, over SQLite and PostgreSQL:
 * frames over 1 MiB (1009), not JSON, of unknown type or before hello
 * (4400, reasons cut to a valid length), another protocol version (4426),
 * refused upgrades (HTTP 401/403), and revocation closing sockets (4401),
 * also when the token is revoked behind the bus. Last, in a child process,
 * that a hostile frame cannot crash the server.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { ERRORS } from '@drover/protocol';
import { waitFor } from '@drover/test-support';
import { revokeToken } from '../src/auth/tokens.js';
import { unique, useApiServer } from './api-suite.js';
import { AgentSocket, hello, refusedUpgrade, WAIT_MS } from './fake-agent.js';
import { api, backendCases, nowIso, startTestServer, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`the agent websocket over ${backend}`, { skip }, () => {
    let t: TestServer;
    let admin: string;
    let activate: string;
    const { sockets, register } = useApiServer(backend, (s) => ({ t, admin, activate } = s));

    test('a token revoked behind the bus (directly in the database) still closes its sockets within a ping round', async () => {
      const quick = await startTestServer(backend, { pingIntervalMs: 1000 });
      try {
        const minted = await quick.mint('agent');
        const { socket } = await AgentSocket.register(quick.wsUrl, minted.token, 'revoked-behind-the-bus');
        assert.equal(await revokeToken(quick.db, null, minted.id), true);
        const closed = await socket.closedWithin();
        assert.equal(closed.code, 4401);
        assert.match(closed.reason, /revoked/);
      } finally {
        await quick.close();
      }
    });

    test('a frame over the 1 MiB limit closes the socket with 1009', async () => {
      const { socket: s } = await register((await t.mint('agent')).token, unique('big-frame'));
      sockets.push(s);
      s.send({ type: 'deployment.log', id: randomUUID(), lines: [{ seq: 0, time: nowIso(), stream: 'stdout', text: 'x'.repeat(1024 * 1024 + 1) }] });
      const closed = await s.closedWithin();
      assert.equal(closed.code, 1009);
    });

    test('a frame that is not JSON closes the socket with 4400', async () => {
      const s = await AgentSocket.open(t.wsUrl, (await t.mint('agent')).token);
      sockets.push(s);
      s.send('this is not json');
      const closed = await s.closedWithin();
      assert.equal(closed.code, 4400);
      assert.match(closed.reason, /not JSON/);
    });

    test('a frame of unknown type closes the socket with 4400', async () => {
      const { socket: s } = await register((await t.mint('agent')).token, unique('bad-frame'));
      s.send({ type: 'deployment.exploded', id: randomUUID() });
      const closed = await s.closedWithin();
      assert.equal(closed.code, 4400);
      assert.match(closed.reason, /unknown type "deployment.exploded"/);
    });

    test('a long unknown type is cut to a valid close reason (≤ 123 bytes)', async () => {
      const s = await AgentSocket.open(t.wsUrl, (await t.mint('agent')).token);
      sockets.push(s);
      s.send({ type: 'x'.repeat(5000) });
      const closed = await s.closedWithin();
      assert.equal(closed.code, 4400);
      assert.ok(Buffer.byteLength(closed.reason) <= 123);
      assert.match(closed.reason, /^agent frame has unknown type "x+/);
    });

    test('an event before hello closes the socket with 4400', async () => {
      const s = await AgentSocket.open(t.wsUrl, (await t.mint('agent')).token);
      sockets.push(s);
      s.send({ type: 'deployment.started', id: randomUUID(), time: nowIso() });
      const closed = await s.closedWithin();
      assert.equal(closed.code, 4400);
      assert.match(closed.reason, /expected "hello" first/);
    });

    test('another protocol version closes with 4426', async () => {
      const s = await AgentSocket.open(t.wsUrl, (await t.mint('agent')).token);
      sockets.push(s);
      s.send(hello(unique('future'), { protocol: 99 }));
      const closed = await s.closedWithin();
      assert.equal(closed.code, 4426);
    });

    test('an upgrade with a bad token is refused with HTTP 401, a wrong kind with 403', async () => {
      const none = await refusedUpgrade(t.wsUrl, undefined);
      assert.equal(none.status, 401);
      assert.equal(none.body.code, 'DROVER_ERR_UNAUTHORIZED');
      const malformed = await refusedUpgrade(t.wsUrl, 'nope');
      assert.equal(malformed.status, 401);
      assert.equal(malformed.body.code, 'DROVER_ERR_UNAUTHORIZED');
      const unknown = await refusedUpgrade(t.wsUrl, `drover_agent_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('hex')}`);
      assert.equal(unknown.status, 401);
      assert.equal(unknown.body.hint, ERRORS.DROVER_ERR_UNAUTHORIZED.hint);
      const wrongKind = await refusedUpgrade(t.wsUrl, activate);
      assert.equal(wrongKind.status, 403);
      assert.equal(wrongKind.body.code, 'DROVER_ERR_FORBIDDEN');
    });

    test('revoking the agent token closes its socket with 4401; it cannot reconnect', async () => {
      const name = unique('revoke-me');
      const minted = await t.mint('agent', { agent: name });
      const { socket: s } = await register(minted.token, name);
      const res = await api(t, 'DELETE', `/api/v1/tokens/${minted.id}`, { token: admin });
      assert.equal(res.status, 204);
      const closed = await s.closedWithin();
      assert.equal(closed.code, 4401);
      assert.match(closed.reason, /revoked/);
      const again = await refusedUpgrade(t.wsUrl, minted.token);
      assert.equal(again.status, 401);
      assert.equal(again.body.code, 'DROVER_ERR_TOKEN_REVOKED');
      await waitFor(
        `${name} is listed offline`,
        async () => (await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate })).json.online === false,
        WAIT_MS,
        25,
      );
    });
  });
}

describe('agent hub robustness (own process, since the failure mode is a crash)', () => {
  test('an unknown type in non-ASCII text closes with 4400 and the server keeps running', async () => {
    const support = new URL('./support.js', import.meta.url).href;
    const fakeAgent = new URL('./fake-agent.js', import.meta.url).href;
    const script = `
        const { startTestServer } = await import(${JSON.stringify(support)});
        const { AgentSocket } = await import(${JSON.stringify(fakeAgent)});
        process.on('unhandledRejection', (err) => { console.error('unhandledRejection: ' + err.message); process.exitCode = 1; });
        const t = await startTestServer('sqlite');
        try {
          const s = await AgentSocket.open(t.wsUrl, (await t.mint('agent')).token);
          s.send({ type: 'é'.repeat(60) });
          const closed = await s.closedWithin(1500).catch((err) => ({ code: 0, reason: err.message }));
          const health = await fetch(t.url + '/api/v1/health');
          console.log(JSON.stringify({ code: closed.code, reason: closed.reason, health: health.status }));
          s.close();
        } finally {
          await t.close();
        }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.doesNotMatch(stderr, /unhandledRejection|RangeError/);
    assert.equal(code, 0, stderr);
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { code: number; reason: string; health: number };
    assert.equal(result.code, 4400, result.reason);
    assert.ok(Buffer.byteLength(result.reason) <= 123);
    assert.match(result.reason, /^agent frame has unknown type "é+/);
    assert.equal(result.health, 200);
  });
});
