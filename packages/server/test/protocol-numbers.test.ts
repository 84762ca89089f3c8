/**
 * Numbers and times at the protocol edge, on SQLite and PostgreSQL alike
 * (issue 12 §10): query integers past their range (`offset=1e20`) are 400,
 * not 500; agent frames with `closureSize`/`seq` of 1e300 or 2^53+2, or a
 * `time` that is no ISO-8601 UTC timestamp, are refused with 4400 before
 * anything is stored; the largest safe values are stored and read back.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_LOG_SEQ } from '@drover/protocol';
import { assertError, unique, useApiServer } from './api-suite.js';
import type { AgentSocket } from './fake-agent.js';
import { api, backendCases, nowIso, storePath, type TestServer } from './support.js';

/** 2^53 + 2: an integer a double holds exactly, past Number.MAX_SAFE_INTEGER. */
const UNSAFE = 2 ** 53 + 2;

for (const { backend, skip } of await backendCases()) {
  describe(`numbers and times at the protocol edge over ${backend}`, { skip }, () => {
    let t: TestServer;
    let activate: string;
    const { register } = useApiServer(backend, (s) => ({ t, activate } = s));

    /** A fake agent with one deployment sent to it. */
    async function withDeployment(): Promise<{ socket: AgentSocket; id: string }> {
      const name = unique('numbers');
      const { socket } = await register((await t.mint('agent')).token, name);
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [name]: storePath('numbers') } } });
      assert.equal(res.status, 201, res.text);
      const { deployment } = await socket.next('deploy');
      return { socket, id: deployment.id };
    }

    test('offset=1e20, an offset past 10^9 and after=2^53+2 are refused with 400', async () => {
      for (const url of [
        '/api/v1/deployments?offset=1e20',
        '/api/v1/deployments?offset=100000000000000000000',
        '/api/v1/deployments?offset=1000000001',
        '/api/v1/agents?limit=10&offset=1e20',
        `/api/v1/deployments?limit=${UNSAFE}`,
      ]) {
        assertError(await api(t, 'GET', url, { token: activate }), 'DROVER_ERR_VALIDATION');
      }
      const { socket, id } = await withDeployment();
      socket.close();
      assertError(await api(t, 'GET', `/api/v1/deployments/${id}/log?after=${UNSAFE}`, { token: activate }), 'DROVER_ERR_VALIDATION');
      assertError(await api(t, 'GET', `/api/v1/deployments/${id}/log?after=1e300`, { token: activate }), 'DROVER_ERR_VALIDATION');
      const fine = await api(t, 'GET', '/api/v1/deployments?offset=1000000000', { token: activate });
      assert.equal(fine.status, 200, fine.text);
      assert.deepEqual(fine.json.deployments, []);
    });

    const refusedFrames: [string, (id: string) => object][] = [
      ['closureSize 1e300', (id) => ({ type: 'deployment.closure-size', id, closureSize: 1e300 })],
      ['closureSize 2^53+2', (id) => ({ type: 'deployment.closure-size', id, closureSize: UNSAFE })],
      ['seq 1e300', (id) => ({ type: 'deployment.log', id, lines: [{ seq: 1e300, time: nowIso(), stream: 'stdout', text: 'x' }] })],
      ['seq 2^53+2', (id) => ({ type: 'deployment.log', id, lines: [{ seq: UNSAFE, time: nowIso(), stream: 'stdout', text: 'x' }] })],
      ['seq past the integer column', (id) => ({ type: 'deployment.log', id, lines: [{ seq: MAX_LOG_SEQ + 1, time: nowIso(), stream: 'stdout', text: 'x' }] })],
      ['a 40-character time', (id) => ({ type: 'deployment.started', id, time: 'x'.repeat(40) })],
      ['a time with an offset', (id) => ({ type: 'deployment.started', id, time: '2026-01-01T00:00:00+02:00' })],
      ['month 13', (id) => ({ type: 'deployment.finished', id, time: '2026-13-01T00:00:00.000Z', status: 'Succeeded', reason: null, activePath: null })],
      ['a log line time that is no timestamp', (id) => ({ type: 'deployment.log', id, lines: [{ seq: 0, time: 'yesterday', stream: 'stdout', text: 'x' }] })],
    ];
    for (const [what, frame] of refusedFrames) {
      test(`a frame with ${what} is refused with 4400 and nothing is stored`, async () => {
        const { socket, id } = await withDeployment();
        socket.send(frame(id));
        const closed = await socket.closedWithin();
        assert.equal(closed.code, 4400, closed.reason);
        assert.match(closed.reason, /invalid at/);
        const got = await api(t, 'GET', `/api/v1/deployments/${id}/log`, { token: activate });
        assert.equal(got.status, 200, got.text);
        assert.equal(got.json.deployment.status, 'Pending');
        assert.equal(got.json.deployment.closureSize, null);
        assert.deepEqual(got.json.lines, []);
      });
    }

    test('the largest safe closureSize and seq and a nanosecond time are stored and read back', async () => {
      const { socket, id } = await withDeployment();
      const started = '2026-01-31T23:59:59.123456789Z';
      socket.send({ type: 'deployment.started', id, time: started });
      socket.send({ type: 'deployment.closure-size', id, closureSize: Number.MAX_SAFE_INTEGER });
      socket.send({ type: 'deployment.log', id, lines: [{ seq: MAX_LOG_SEQ, time: nowIso(), stream: 'stdout', text: 'last' }] });
      socket.send({ type: 'deployment.finished', id, time: nowIso(), status: 'Succeeded', reason: null, activePath: null });
      await socket.next('deployment.ack');
      const got = await api(t, 'GET', `/api/v1/deployments/${id}/log`, { token: activate });
      assert.equal(got.json.deployment.closureSize, Number.MAX_SAFE_INTEGER);
      assert.equal(got.json.deployment.startedAt, started);
      assert.deepEqual(
        got.json.lines.map((l: { seq: number }) => l.seq),
        [MAX_LOG_SEQ],
      );
    });
  });
}
