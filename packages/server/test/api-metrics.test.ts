/**
 * GET /metrics over SQLite and PostgreSQL: Prometheus text for admin tokens,
 * counting what a short session (an agent registering, a deployment
 * succeeding, a bad frame) did; 403 and 401 for others.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, useApiServer } from './api-suite.js';
import { AgentSocket } from './fake-agent.js';
import { api, backendCases, nowIso, storePath, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`metrics over ${backend}`, { skip }, () => {
    let t: TestServer;
    let admin: string;
    let activate: string;
    const { sockets, register } = useApiServer(backend, (s) => ({ t, admin, activate } = s));

    before(async () => {
      // What the metrics below count: an agent saying hello, a deployment created by POST /activate (201) that
      // finishes Succeeded, and a bad frame on a second socket.
      const { socket } = await register((await t.mint('agent', { agent: 'web-1' })).token, 'web-1');
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { 'web-1': storePath('system-1') } } });
      if (res.status !== 201) throw new Error(`activate answered ${res.status}: ${res.text}`);
      const { deployment } = await socket.next('deploy');
      socket.send({ type: 'deployment.started', id: deployment.id, time: nowIso() });
      socket.send({ type: 'deployment.finished', id: deployment.id, time: nowIso(), status: 'Succeeded', reason: null, activePath: deployment.storePath });
      await socket.next('deployment.ack');
      const bad = await AgentSocket.open(t.wsUrl, (await t.mint('agent')).token);
      sockets.push(bad);
      bad.send('this is not json');
      await bad.closedWithin();
    });

    test('GET /metrics: Prometheus text for admin tokens, counting what happened above; 403 for others', async () => {
      const res = await api(t, 'GET', '/metrics', { token: admin });
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /^text\/plain/);
      assert.match(res.text, /^drover_agents_connected [1-9]\d*$/m);
      assert.match(res.text, /^drover_agent_frames_total\{type="hello"\} [1-9]\d*$/m);
      assert.match(res.text, /^drover_agent_bad_frames_total [1-9]\d*$/m);
      assert.match(res.text, /^drover_deployments_finished_total\{status="Succeeded"\} [1-9]\d*$/m);
      assert.match(res.text, /^drover_deployments_created_total [1-9]\d*$/m);
      assert.match(res.text, /^drover_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/activate",status="201"\} [1-9]\d*$/m);
      assertError(await api(t, 'GET', '/metrics', { token: activate }), 'DROVER_ERR_FORBIDDEN');
      assertError(await api(t, 'GET', '/metrics'), 'DROVER_ERR_UNAUTHORIZED');
    });
  });
}
