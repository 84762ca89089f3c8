/**
 * A deployment's life with a fake agent over a real websocket, on SQLite and
 * PostgreSQL: hello and registration, deploy frames with indexes,
 * supersession (and a superseded start answered with cancel),
 * started/log/finished with ack and the stored log, the log as server-sent
 * events and its resumption, cancelling a Pending deployment.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, useApiServer, UUID_RE } from './api-suite.js';
import { AgentSocket } from './fake-agent.js';
import { api, backendCases, nowIso, parseEventStream, storePath, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`deployments with a fake agent over ${backend}`, { skip }, () => {
    let t: TestServer;
    let activate: string;
    const { register } = useApiServer(backend, (s) => ({ t, activate } = s));

    let socket: AgentSocket;
    let agentId: string;
    const first = storePath('system-1');
    const second = storePath('system-2');
    const rollback = storePath('rollback');
    let firstId: string;
    let secondId: string;

    test('hello → registered, and the agent is listed online', async () => {
      const r = await register((await t.mint('agent', { agent: 'web-1' })).token, 'web-1');
      socket = r.socket;
      assert.match(r.registered.agentId, UUID_RE);
      assert.equal(r.registered.workspace, 'default');
      assert.equal(r.registered.cache, null);
      assert.equal(r.registered.pingIntervalMs, 30_000);
      agentId = r.registered.agentId;

      const list = await api(t, 'GET', '/api/v1/agents', { token: activate });
      assert.equal(list.status, 200);
      const web1 = list.json.agents.find((a: { name: string }) => a.name === 'web-1');
      assert.ok(web1, 'web-1 listed');
      assert.equal(web1.id, agentId);
      assert.equal(web1.online, true);
      assert.equal(web1.system, 'x86_64-linux');
      assert.equal(web1.hostname, 'web-1.test');
      assert.equal(web1.version, '0.0.0-test');
      assert.equal(web1.workspace, 'default');
      assert.equal(web1.lastDeployment, null);
      const one = await api(t, 'GET', '/api/v1/agents/web-1', { token: activate });
      assert.deepEqual(one.json, web1);
      const health = await api(t, 'GET', '/api/v1/health');
      assert.ok(health.json.agentsConnected >= 1);
    });

    test('activate sends a deploy frame with index 1', async () => {
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { 'web-1': first } } });
      assert.equal(res.status, 201, res.text);
      assert.match(res.json.activationId, UUID_RE);
      const entry = res.json.agents['web-1'];
      assert.equal(entry.index, 1);
      assert.equal(entry.storePath, first);
      assert.equal(entry.online, true);
      assert.equal(entry.url, `${t.url}/w/default/deployments/${entry.id}`);
      firstId = entry.id;

      const deploy = await socket.next('deploy');
      assert.deepEqual(deploy.deployment, { id: firstId, index: 1, storePath: first, rollbackScript: null, cache: null, wantDiff: true, secrets: [] });

      const got = await api(t, 'GET', `/api/v1/deployments/${firstId}`, { token: activate });
      assert.equal(got.json.status, 'Pending');
      assert.equal(got.json.agent, 'web-1');
      assert.equal(got.json.activationId, res.json.activationId);
      const activation = await api(t, 'GET', `/api/v1/activations/${res.json.activationId}`, { token: activate });
      assert.deepEqual(
        activation.json.deployments.map((d: { id: string }) => d.id),
        [firstId],
      );
    });

    test('a second activate gives index 2 and supersedes the unstarted first', async () => {
      const res = await api(t, 'POST', '/api/v1/activate', {
        token: activate,
        body: { agents: { 'web-1': second }, rollbackScript: { 'x86_64-linux': rollback, 'aarch64-linux': storePath('other') } },
      });
      assert.equal(res.status, 201, res.text);
      secondId = res.json.agents['web-1'].id;
      assert.equal(res.json.agents['web-1'].index, 2);

      const deploy = await socket.next('deploy');
      assert.deepEqual(deploy.deployment, { id: secondId, index: 2, storePath: second, rollbackScript: rollback, cache: null, wantDiff: true, secrets: [] });

      const old = await api(t, 'GET', `/api/v1/deployments/${firstId}`, { token: activate });
      assert.equal(old.json.status, 'Superseded');
      assert.equal(typeof old.json.finishedAt, 'string');
      const cur = await api(t, 'GET', `/api/v1/deployments/${secondId}`, { token: activate });
      assert.equal(cur.json.status, 'Pending');
      assert.equal(cur.json.index, 2);
      assert.equal(cur.json.rollbackScript, rollback);
    });

    test('starting the superseded deployment is answered with deployment.cancel', async () => {
      socket.send({ type: 'deployment.started', id: firstId, time: nowIso() });
      const cancel = await socket.next('deployment.cancel');
      assert.equal(cancel.id, firstId);
      assert.match(cancel.reason, /Superseded/);
      const old = await api(t, 'GET', `/api/v1/deployments/${firstId}`, { token: activate });
      assert.equal(old.json.status, 'Superseded', 'does not move back to InProgress');
    });

    test('started, two log lines, finished → ack, and the log is stored in order', async () => {
      const t0 = nowIso();
      socket.send({ type: 'deployment.started', id: secondId, time: t0 });
      socket.send({ type: 'deployment.closure-size', id: secondId, closureSize: 4096 });
      socket.send({ type: 'deployment.log', id: secondId, lines: [{ seq: 0, time: nowIso(), stream: 'stdout', text: 'copying path' }] });
      socket.send({ type: 'deployment.log', id: secondId, lines: [{ seq: 1, time: nowIso(), stream: 'stderr', text: 'activating ✓' }] });
      // A replay after a reconnect repeats lines: stored once.
      socket.send({ type: 'deployment.log', id: secondId, lines: [{ seq: 0, time: nowIso(), stream: 'stdout', text: 'copying path' }] });
      socket.send({ type: 'deployment.finished', id: secondId, time: nowIso(), status: 'Succeeded', reason: null, activePath: second });
      const ack = await socket.next('deployment.ack');
      assert.equal(ack.id, secondId);

      const log = await api(t, 'GET', `/api/v1/deployments/${secondId}/log`, { token: activate });
      assert.equal(log.status, 200);
      assert.deepEqual(
        log.json.lines.map((l: { seq: number; stream: string; text: string }) => [l.seq, l.stream, l.text]),
        [
          [0, 'stdout', 'copying path'],
          [1, 'stderr', 'activating ✓'],
        ],
      );
      assert.equal(log.json.deployment.status, 'Succeeded');
      assert.equal(log.json.deployment.startedAt, t0);
      assert.equal(log.json.deployment.closureSize, 4096);
      const tail = await api(t, 'GET', `/api/v1/deployments/${secondId}/log?after=0`, { token: activate });
      assert.deepEqual(
        tail.json.lines.map((l: { seq: number }) => l.seq),
        [1],
      );

      const agent = await api(t, 'GET', '/api/v1/agents/web-1', { token: activate });
      assert.equal(agent.json.currentStorePath, second);
      assert.equal(agent.json.lastDeployment.id, secondId);
      assert.equal(agent.json.lastDeployment.status, 'Succeeded');

      const list = await api(t, 'GET', '/api/v1/deployments?agent=web-1', { token: activate });
      assert.deepEqual(
        list.json.deployments.map((d: { index: number; status: string }) => [d.index, d.status]),
        [
          [2, 'Succeeded'],
          [1, 'Superseded'],
        ],
      );
      assert.deepEqual(socket.undecodable, []);
    });

    test('the log as server-sent events: stored lines, the status, then `end`, and the stream closes', async () => {
      const res = await fetch(`${t.server.url}/api/v1/deployments/${secondId}/log`, {
        headers: { authorization: `Bearer ${activate}`, accept: 'text/event-stream' },
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      const events = parseEventStream(await res.text());
      assert.deepEqual(
        events.map((e) => e.event),
        ['line', 'line', 'status', 'end'],
      );
      assert.deepEqual(
        events.map((e) => e.id),
        ['0', '1', undefined, undefined],
        'lines carry their seq as the event id',
      );
      assert.deepEqual(
        events.slice(0, 2).map((e) => [e.data['seq'], e.data['text'], e.data['agent']]),
        [
          [0, 'copying path', 'web-1'],
          [1, 'activating ✓', 'web-1'],
        ],
      );
      assert.equal(events[2]!.data['status'], 'Succeeded');
    });

    test('a log stream resumes after ?after=SEQ or the Last-Event-ID a reconnecting EventSource sends', async () => {
      const stream = async (query: string, headers: Record<string, string> = {}) => {
        const res = await fetch(`${t.server.url}/api/v1/deployments/${secondId}/log${query}`, {
          headers: { authorization: `Bearer ${activate}`, accept: 'text/event-stream', ...headers },
          signal: AbortSignal.timeout(10_000),
        });
        return parseEventStream(await res.text()).map((e) => (e.event === 'line' ? `line ${e.id}` : e.event));
      };
      assert.deepEqual(await stream('?after=0'), ['line 1', 'status', 'end']);
      assert.deepEqual(await stream('', { 'last-event-id': '1' }), ['status', 'end']);
      assert.deepEqual(await stream('', { 'last-event-id': 'garbage' }), ['line 0', 'line 1', 'status', 'end']);
    });

    test('cancelling a Pending deployment tells the agent; cancelling again → 409 DROVER_ERR_NOT_CANCELLABLE', async () => {
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { 'web-1': storePath('system-3') } } });
      assert.equal(res.status, 201, res.text);
      const id = res.json.agents['web-1'].id as string;
      assert.equal((await socket.next('deploy')).deployment.index, 3);

      const cancelled = await api(t, 'POST', `/api/v1/deployments/${id}/cancel`, { token: activate });
      assert.equal(cancelled.status, 200, cancelled.text);
      assert.equal(cancelled.json.status, 'Cancelled');
      const frame = await socket.next('deployment.cancel');
      assert.equal(frame.id, id);

      assertError(await api(t, 'POST', `/api/v1/deployments/${id}/cancel`, { token: activate }), 'DROVER_ERR_NOT_CANCELLABLE', /is Cancelled/);
      assertError(await api(t, 'POST', `/api/v1/deployments/${secondId}/cancel`, { token: activate }), 'DROVER_ERR_NOT_CANCELLABLE', /is Succeeded/);
      assertError(await api(t, 'POST', `/api/v1/deployments/${id}/cancel`, { token: (await t.mint('agent')).token }), 'DROVER_ERR_FORBIDDEN');
    });

    test('the first agent socket stayed open through all of this', () => {
      assert.deepEqual(socket.pending(), []);
      assert.equal(socket.socket.readyState, socket.socket.OPEN);
    });
  });
}
