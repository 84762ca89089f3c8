/**
 * Superseded deployments are announced like any other change: an open log
 * stream of a Pending deployment hears at once (not through its 5 s poll)
 * that a newer activation superseded it, and ends.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, backendCases, parseEventStream, startTestServer, storePath } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`announcements over ${backend}`, { skip }, () => {
    test('a log stream sees its deployment superseded well before the poll would', async () => {
      const t = await startTestServer(backend);
      try {
        // A bound token declares the agent, so it can be deployed to before it ever connects.
        await t.mint('agent', { agent: 'quiet-1' });
        const activate = (await t.mint('activate')).token;
        const first = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { 'quiet-1': storePath('one') } } });
        assert.equal(first.status, 201);
        const firstId: string = first.json.agents['quiet-1'].id;
        const res = await fetch(`${t.url}/api/v1/deployments/${firstId}/log`, {
          headers: { authorization: `Bearer ${activate}`, accept: 'text/event-stream' },
          signal: AbortSignal.timeout(10_000),
        });
        assert.equal(res.status, 200);
        const started = Date.now();
        const second = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { 'quiet-1': storePath('two') } } });
        assert.equal(second.status, 201);
        const events = parseEventStream(await res.text());
        assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
        assert.deepEqual(
          events.map((e) => [e.event, e.data['status']]),
          [
            ['status', 'Pending'],
            ['status', 'Superseded'],
            ['end', undefined],
          ],
        );
      } finally {
        await t.close();
      }
    });
  });
}
