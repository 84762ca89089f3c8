/**
 * Closure diffs on the server, over SQLite and PostgreSQL: when both
 * closures were pushed to the built-in cache the agents use, a new
 * deployment gets its diff from the narinfos' References at once (source
 * server) and its order does not ask the agent for one; otherwise the order
 * says `wantDiff` and the agent's `deployment.diff` is stored (for its own
 * deployments only). GET …/deployments/:id names the previous deployment,
 * and a Superseded one the deployment that replaced it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { diffClosures, STORE_DIR } from '@drover/protocol';
import { useApiServer } from './api-suite.js';
import { batchBody, fakePath, pathInfoOf, pushBatch, type FakePath } from './cache-support.js';
import { api, backendCases, nowIso, storePath, type TestServer } from './support.js';
import type { AgentSocket } from './fake-agent.js';

const base = (p: FakePath) => p.storePath.slice(STORE_DIR.length + 1);

/** Pushes the paths in order (each one's references already pushed), `refs` naming the references of each. */
async function push(t: TestServer, token: string, entries: [FakePath, FakePath[]][]): Promise<void> {
  for (const [path, refs] of entries) {
    const res = await pushBatch(t, 'main', batchBody([{ path, info: pathInfoOf(path, { references: refs.map(base) }) }]), token);
    assert.ok(res.status < 300, res.text);
  }
}

/** The agent runs the deployment it was sent to success. */
async function succeed(socket: AgentSocket, id: string, activePath: string): Promise<void> {
  socket.send({ type: 'deployment.started', id, time: nowIso() });
  socket.send({ type: 'deployment.finished', id, time: nowIso(), status: 'Succeeded', reason: null, activePath });
  await socket.next('deployment.ack');
}

for (const { backend, skip } of await backendCases()) {
  describe(`closure diffs over ${backend}`, { skip }, () => {
    let t: TestServer;
    let activate: string;
    const { register } = useApiServer(backend, (s) => ({ t, activate } = s));

    test('a diff is computed from the cache references when both closures were pushed, else asked of the agent', async () => {
      await t.server.context.cache.createCache(t.defaultWorkspaceId, 'main');
      const pushToken = (await t.mint('push')).token;
      const libfoo = fakePath('libfoo-1.2', Buffer.alloc(1000, 1));
      const tool = fakePath('tool-3', Buffer.alloc(300, 2));
      const newlib = fakePath('newlib-0.5', Buffer.alloc(700, 3));
      const appA = fakePath('app-1.0', Buffer.alloc(100, 4));
      const appB = fakePath('app-1.1', Buffer.alloc(120, 5));
      await push(t, pushToken, [
        [libfoo, []],
        [tool, [libfoo]],
        [newlib, [libfoo]],
        [appA, [libfoo, tool, appA]],
        [appB, [libfoo, newlib]],
      ]);
      const { socket } = await register((await t.mint('agent', { agent: 'diff-web-1' })).token, 'diff-web-1');

      // The first deployment: the agent runs nothing the server knows of, so it is asked for the diff.
      const first = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { 'diff-web-1': appA.storePath } } });
      assert.equal(first.status, 201, first.text);
      const firstOrder = (await socket.next('deploy')).deployment;
      assert.equal(firstOrder.wantDiff, true);
      const firstView = await api(t, 'GET', `/api/v1/deployments/${firstOrder.id}`, { token: activate });
      assert.deepEqual([firstView.json.diff, firstView.json.previous, firstView.json.supersededBy], [null, null, null]);
      await succeed(socket, firstOrder.id, appA.storePath);

      const second = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { 'diff-web-1': appB.storePath } } });
      assert.equal(second.status, 201, second.text);
      const order = (await socket.next('deploy')).deployment;
      assert.equal(order.wantDiff, undefined, 'the server has the diff, so the agent is not asked');
      const view = await api(t, 'GET', `/api/v1/deployments/${order.id}`, { token: activate });
      assert.equal(view.status, 200, view.text);
      const sizeA = 1000 + 300 + 100;
      const sizeB = 1000 + 700 + 120;
      assert.deepEqual(view.json.diff, {
        from: appA.storePath,
        to: appB.storePath,
        source: 'server',
        added: [{ name: 'newlib', version: '0.5' }],
        removed: [{ name: 'tool', version: '3' }],
        changed: [{ name: 'app', from: ['1.0'], to: ['1.1'] }],
        sizeDelta: sizeB - sizeA,
        sizeFrom: sizeA,
        sizeTo: sizeB,
      });
      assert.deepEqual(view.json.previous, { id: firstOrder.id, storePath: appA.storePath, status: 'Succeeded' });
      const listed = await api(t, 'GET', '/api/v1/deployments?agent=diff-web-1', { token: activate });
      assert.deepEqual(
        listed.json.deployments.map((d: { diff: { source: string } | null }) => d.diff?.source ?? null),
        ['server', null],
        'lists carry the diff too',
      );
      await succeed(socket, order.id, appB.storePath);

      // A path the cache lacks (the check skipped): the agent is asked, and its diff is stored as the agent's.
      const outside = storePath('outside-2.0');
      const third = await api(t, 'POST', '/api/v1/activate?cacheCheck=false', { token: activate, body: { agents: { 'diff-web-1': outside } } });
      assert.equal(third.status, 201, third.text);
      const thirdOrder = (await socket.next('deploy')).deployment;
      assert.equal(thirdOrder.wantDiff, true);
      const agentDiff = diffClosures({
        from: appB.storePath,
        to: outside,
        source: 'agent',
        fromClosure: [{ path: appB.storePath, narSize: 120 }],
        toClosure: [{ path: outside, narSize: 50 }],
      });
      socket.send({ type: 'deployment.diff', id: thirdOrder.id, diff: { ...agentDiff, source: 'server' } });
      socket.send({ type: 'deployment.started', id: thirdOrder.id, time: nowIso() });
      const reported = await waitForDiff(t, activate, thirdOrder.id);
      assert.deepEqual(reported, { ...agentDiff, source: 'agent' }, 'an agent cannot claim the server computed it');

      // A fourth activation while the third is still Pending would supersede nothing (it started); a fifth supersedes the fourth.
      await api(t, 'POST', '/api/v1/activate?cacheCheck=false', { token: activate, body: { agents: { 'diff-web-1': storePath('fourth') } } });
      const fourthId = (await socket.next('deploy')).deployment.id;
      await api(t, 'POST', '/api/v1/activate?cacheCheck=false', { token: activate, body: { agents: { 'diff-web-1': storePath('fifth') } } });
      const fifthId = (await socket.next('deploy')).deployment.id;
      const superseded = await api(t, 'GET', `/api/v1/deployments/${fourthId}`, { token: activate });
      assert.equal(superseded.json.status, 'Superseded');
      assert.deepEqual(superseded.json.supersededBy, { id: fifthId });
      assert.equal(superseded.json.previous.id, thirdOrder.id);
      const fifth = await api(t, 'GET', `/api/v1/deployments/${fifthId}`, { token: activate });
      assert.equal(fifth.json.supersededBy, null);
    });

    test("an agent's diff of another agent's deployment is ignored", async () => {
      const { socket: owner } = await register((await t.mint('agent', { agent: 'diff-owner' })).token, 'diff-owner');
      const { socket: other } = await register((await t.mint('agent', { agent: 'diff-other' })).token, 'diff-other');
      const to = storePath('target-1');
      await api(t, 'POST', '/api/v1/activate?cacheCheck=false', { token: activate, body: { agents: { 'diff-owner': to } } });
      const id = (await owner.next('deploy')).deployment.id;
      const diff = diffClosures({ from: null, to, source: 'agent', fromClosure: null, toClosure: [{ path: to, narSize: 1 }] });
      other.send({ type: 'deployment.diff', id, diff });
      // Frames of one socket are handled in order: once its problems show, the diff frame before them was handled.
      other.send({ type: 'agent.problems', problems: ['marker'] });
      for (let i = 0; i < 200 && (await api(t, 'GET', '/api/v1/agents/diff-other', { token: activate })).json.problems[0] !== 'marker'; i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal((await api(t, 'GET', `/api/v1/deployments/${id}`, { token: activate })).json.diff, null);
      owner.send({ type: 'deployment.diff', id, diff: { ...diff, sizeTo: 7 } });
      assert.equal((await waitForDiff(t, activate, id)).sizeTo, 7);
    });
  });
}

/** The deployment's diff once the server stored one. */
async function waitForDiff(t: TestServer, token: string, id: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 200; i++) {
    const res = await api(t, 'GET', `/api/v1/deployments/${id}`, { token });
    if (res.json.diff) return res.json.diff;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`deployment ${id} got no diff`);
}
