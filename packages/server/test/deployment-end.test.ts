/**
 * An operator ends a deployment whose agent never returns (issue 12 §15),
 * over SQLite and PostgreSQL: cancel only asks (202) and re-run refuses
 * (409) while it is InProgress; POST …/end makes it Failed with who, why
 * and when, and then it can be re-run; only InProgress can be ended; the
 * agent's later report replaces the operator's Failed (the mark stays on
 * record), and a replay of that report changes nothing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, unique, useApiServer } from './api-suite.js';
import { api, backendCases, nowIso, storePath, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`an operator ending a deployment over ${backend}`, { skip }, () => {
    let t: TestServer;
    let activate: string;
    const { register } = useApiServer(backend, (s) => ({ t, activate } = s));
    const name = unique('stuck');
    const path = storePath('stuck-1');
    let token: string;
    let id: string;

    test('an InProgress deployment of an agent that went away: cancel answers 202 and nothing changes, re-run 409', async () => {
      token = (await t.mint('agent', { agent: name })).token;
      const { socket } = await register(token, name);
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [name]: path } } });
      assert.equal(res.status, 201, res.text);
      id = res.json.agents[name].id;
      await socket.next('deploy');
      socket.send({ type: 'deployment.started', id, time: nowIso() });
      socket.send({ type: 'deployment.log', id, lines: [{ seq: 0, time: nowIso(), stream: 'stdout', text: 'activating' }] });
      // The log frame is handled after started: once it is stored, the deployment is InProgress.
      for (let i = 0; i < 100 && (await api(t, 'GET', `/api/v1/deployments/${id}/log`, { token: activate })).json.lines.length === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      socket.close();
      const cancelled = await api(t, 'POST', `/api/v1/deployments/${id}/cancel`, { token: activate });
      assert.equal(cancelled.status, 202, cancelled.text);
      assert.equal(cancelled.json.status, 'InProgress');
      assertError(await api(t, 'POST', `/api/v1/deployments/${id}/rerun`, { token: activate }), 'DROVER_ERR_NOT_FINISHED');
    });

    test('POST …/end marks it Failed with who, why and when; again → 409 DROVER_ERR_NOT_IN_PROGRESS', async () => {
      assertError(await api(t, 'POST', `/api/v1/deployments/${id}/end`, { token: activate, body: {} }), 'DROVER_ERR_VALIDATION');
      const ended = await api(t, 'POST', `/api/v1/deployments/${id}/end`, { token: activate, body: { reason: 'machine was reinstalled' } });
      assert.equal(ended.status, 200, ended.text);
      assert.equal(ended.json.status, 'Failed');
      assert.match(ended.json.reason, /^ended by .+ while InProgress \(the agent never reported\): machine was reinstalled$/);
      assert.equal(ended.json.endedBy.actor.kind, 'token');
      assert.equal(ended.json.endedBy.reason, 'machine was reinstalled');
      assert.equal(ended.json.endedBy.at, ended.json.finishedAt);
      const read = await api(t, 'GET', `/api/v1/deployments/${id}`, { token: activate });
      assert.deepEqual(read.json.endedBy, ended.json.endedBy);
      assertError(
        await api(t, 'POST', `/api/v1/deployments/${id}/end`, { token: activate, body: { reason: 'twice' } }),
        'DROVER_ERR_NOT_IN_PROGRESS',
        /is Failed/,
      );
      assertError(
        await api(t, 'POST', '/api/v1/deployments/00000000-0000-4000-8000-000000000000/end', { token: activate, body: { reason: 'x' } }),
        'DROVER_ERR_DEPLOYMENT_NOT_FOUND',
      );
      const rerun = await api(t, 'POST', `/api/v1/deployments/${id}/rerun`, { token: activate });
      assert.equal(rerun.status, 201, 'once ended it can be re-run: ' + rerun.text);
      assert.equal(rerun.json.status, 'Pending');
    });

    test('a Pending deployment cannot be ended (cancel it), and an agent token may not end anything', async () => {
      const other = unique('pending');
      await t.mint('agent', { agent: other });
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [other]: storePath('pending-1') } } });
      const pendingId: string = res.json.agents[other].id;
      assertError(
        await api(t, 'POST', `/api/v1/deployments/${pendingId}/end`, { token: activate, body: { reason: 'x' } }),
        'DROVER_ERR_NOT_IN_PROGRESS',
        /is Pending/,
      );
      assertError(await api(t, 'POST', `/api/v1/deployments/${pendingId}/end`, { token, body: { reason: 'x' } }), 'DROVER_ERR_FORBIDDEN');
    });

    test("the agent's late report replaces the operator's Failed, the mark stays on record, and a replay changes nothing", async () => {
      const { socket } = await register(token, name);
      const finishedAt = nowIso();
      socket.send({ type: 'deployment.finished', id, time: finishedAt, status: 'Succeeded', reason: null, activePath: path });
      assert.equal((await socket.next('deployment.ack')).id, id);
      const read = await api(t, 'GET', `/api/v1/deployments/${id}`, { token: activate });
      assert.equal(read.json.status, 'Succeeded', 'the agent is the truth about the machine');
      assert.equal(read.json.reason, null);
      assert.equal(read.json.finishedAt, finishedAt);
      assert.equal(read.json.endedBy.reason, 'machine was reinstalled', "the operator's mark stays on record");
      const agent = await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate });
      assert.equal(agent.json.currentStorePath, path);
      socket.send({ type: 'deployment.finished', id, time: nowIso(), status: 'Failed', reason: 'replayed', activePath: null });
      await socket.next('deployment.ack');
      const again = await api(t, 'GET', `/api/v1/deployments/${id}`, { token: activate });
      assert.equal(again.json.status, 'Succeeded');
      assert.equal(again.json.finishedAt, finishedAt);
      socket.close();
    });
  });
}
