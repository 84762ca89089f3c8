/**
 * Text with a NUL byte, on SQLite and PostgreSQL alike (issue 12 §2): what an
 * agent reports (hello fields, log lines, an outcome's reason) is stored with
 * U+0000 replaced by U+FFFD and acknowledged — never a 1011 replay loop —
 * while text a user sends (a `q` filter, a token description, a sign-in name,
 * a path parameter) is refused with 400.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, unique, useApiServer } from './api-suite.js';
import { AgentSocket } from './fake-agent.js';
import { api, backendCases, nowIso, storePath, type TestServer } from './support.js';

const NUL = '\u0000';
const REPLACED = '\uFFFD';

for (const { backend, skip } of await backendCases()) {
  describe(`text with a NUL byte over ${backend}`, { skip }, () => {
    let t: TestServer;
    let admin: string;
    let activate: string;
    const { sockets, register } = useApiServer(backend, (s) => ({ t, admin, activate } = s));

    test('hello fields, a log line and a reason with NUL are stored with U+FFFD and the outcome is acknowledged', async () => {
      const name = unique('nul');
      const { socket } = await AgentSocket.register(t.wsUrl, (await t.mint('agent')).token, name, {
        hostname: `host${NUL}name`,
        version: `1.0${NUL}`,
        profile: `/nix/var/nix/profiles/sys${NUL}tem`,
      });
      sockets.push(socket);
      const agent = await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate });
      assert.equal(agent.status, 200, agent.text);
      assert.equal(agent.json.hostname, `host${REPLACED}name`);
      assert.equal(agent.json.version, `1.0${REPLACED}`);
      assert.equal(agent.json.profile, `/nix/var/nix/profiles/sys${REPLACED}tem`);

      const path = storePath('nul-system');
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [name]: path } } });
      assert.equal(res.status, 201, res.text);
      const { deployment } = await socket.next('deploy');
      socket.send({ type: 'deployment.started', id: deployment.id, time: nowIso() });
      socket.send({ type: 'deployment.log', id: deployment.id, lines: [{ seq: 0, time: nowIso(), stream: 'stdout', text: `before${NUL}after` }] });
      socket.send({ type: 'deployment.finished', id: deployment.id, time: nowIso(), status: 'Failed', reason: `exit${NUL}1`, activePath: null });
      const ack = await socket.next('deployment.ack');
      assert.equal(ack.id, deployment.id);

      const log = await api(t, 'GET', `/api/v1/deployments/${deployment.id}/log`, { token: activate });
      assert.equal(log.status, 200, log.text);
      assert.deepEqual(
        log.json.lines.map((l: { text: string }) => l.text),
        [`before${REPLACED}after`],
      );
      assert.equal(log.json.deployment.status, 'Failed');
      assert.equal(log.json.deployment.reason, `exit${REPLACED}1`);
      assert.deepEqual(
        socket.pending().filter((m) => m.type === 'deploy'),
        [],
        'no replay of the same order',
      );
    });

    test('a lone surrogate in a log line is stored as U+FFFD on both databases', async () => {
      const name = unique('surrogate');
      const { socket } = await register((await t.mint('agent')).token, name);
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [name]: storePath('surrogate') } } });
      assert.equal(res.status, 201, res.text);
      const { deployment } = await socket.next('deploy');
      // JSON.stringify writes a lone surrogate as the escape \ud800.
      socket.send({ type: 'deployment.log', id: deployment.id, lines: [{ seq: 0, time: nowIso(), stream: 'stderr', text: 'a\ud800b' }] });
      socket.send({ type: 'deployment.finished', id: deployment.id, time: nowIso(), status: 'Succeeded', reason: null, activePath: null });
      await socket.next('deployment.ack');
      const log = await api(t, 'GET', `/api/v1/deployments/${deployment.id}/log`, { token: activate });
      assert.deepEqual(
        log.json.lines.map((l: { text: string }) => l.text),
        [`a${REPLACED}b`],
      );
    });

    test('a `q` filter, a token description, a sign-in name and path parameters with NUL are refused with 400', async () => {
      const refused = /control character/;
      assertError(await api(t, 'GET', `/api/v1/agents?q=a%00b`, { token: activate }), 'DROVER_ERR_VALIDATION', refused);
      assertError(await api(t, 'GET', `/api/v1/agents/a%00b`, { token: activate }), 'DROVER_ERR_VALIDATION', refused);
      assertError(await api(t, 'GET', `/api/v1/deployments/a%00b`, { token: activate }), 'DROVER_ERR_VALIDATION', refused);
      assertError(
        await api(t, 'POST', '/api/v1/tokens', { token: admin, body: { kind: 'activate', description: `ci${NUL}` } }),
        'DROVER_ERR_VALIDATION',
        refused,
      );
      assertError(await api(t, 'POST', '/api/v1/session', { body: { name: `admin${NUL}`, password: 'x' } }), 'DROVER_ERR_VALIDATION', refused);
      assertError(
        await api(t, 'PUT', '/api/v1/workspaces/default/cache', { token: admin, body: { substituter: `https://c${NUL}`, publicKey: 'k:1' } }),
        'DROVER_ERR_VALIDATION',
        refused,
      );
    });
  });
}
