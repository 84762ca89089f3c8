/**
 * POST /api/v1/activate refusing what it cannot deploy, over SQLite and
 * PostgreSQL: bodies that are not JSON or not a spec, invalid names reported
 * once with escaped pointers, bad store paths and unknown agents (atomic:
 * nothing is created), and unknown deployment and activation ids (404).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createWorkspace } from '../src/workspaces/repository.js';
import { assertError, unique, useApiServer } from './api-suite.js';
import { api, backendCases, storePath, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`activation requests over ${backend}`, { skip }, () => {
    let t: TestServer;
    let activate: string;
    const { register } = useApiServer(backend, (s) => ({ t, activate } = s));

    test('activate with a body that is not JSON → 400 DROVER_ERR_VALIDATION', async () => {
      const res = await api(t, 'POST', '/api/v1/activate', {
        token: activate,
        body: '{"agents": {"web-1": ',
        headers: { 'content-type': 'application/json' },
      });
      assertError(res, 'DROVER_ERR_VALIDATION', /not valid JSON/);
      const empty = await api(t, 'POST', '/api/v1/activate', { token: activate, body: '', headers: { 'content-type': 'application/json' } });
      assertError(empty, 'DROVER_ERR_VALIDATION');
    });

    test('activate with a JSON body that is not a spec → 400 DROVER_ERR_INVALID_DEPLOY_SPEC', async () => {
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: '[1,2]', headers: { 'content-type': 'application/json' } });
      assertError(res, 'DROVER_ERR_INVALID_DEPLOY_SPEC');
      assert.deepEqual(
        res.json.details.map((d: { path: string }) => d.path),
        [''],
      );
    });

    test('deployment not found → 404 DROVER_ERR_DEPLOYMENT_NOT_FOUND', async () => {
      const id = randomUUID();
      assertError(await api(t, 'GET', `/api/v1/deployments/${id}`, { token: activate }), 'DROVER_ERR_DEPLOYMENT_NOT_FOUND', new RegExp(id));
      assertError(await api(t, 'GET', '/api/v1/deployments/not-a-uuid', { token: activate }), 'DROVER_ERR_DEPLOYMENT_NOT_FOUND');
      assertError(await api(t, 'GET', `/api/v1/deployments/${id}/log`, { token: activate }), 'DROVER_ERR_DEPLOYMENT_NOT_FOUND');
      assertError(await api(t, 'POST', `/api/v1/deployments/${id}/cancel`, { token: activate }), 'DROVER_ERR_DEPLOYMENT_NOT_FOUND');
      assertError(await api(t, 'GET', `/api/v1/activations/${id}`, { token: activate }), 'DROVER_ERR_DEPLOYMENT_NOT_FOUND');
    });

    test('a bad store path and an unknown agent → 400 naming each, and nothing is created', async () => {
      const ws = await createWorkspace(t.db, unique('atomic'));
      const wsActivate = (await t.mint('activate', { workspaceId: ws.id })).token;
      const { socket } = await register((await t.mint('agent', { workspaceId: ws.id })).token, 'known-1');

      const res = await api(t, 'POST', '/api/v1/activate', {
        token: wsActivate,
        body: { agents: { 'known-1': storePath('ok'), 'bad-path': '/nix/store/not-a-store-path', ghost: storePath('ghost') } },
      });
      assertError(res, 'DROVER_ERR_INVALID_DEPLOY_SPEC', /^nothing was deployed: /);
      const details = res.json.details as { path: string; code: string; message: string }[];
      assert.deepEqual(details.map((d) => [d.path, d.code]).sort(), [
        ['/agents/bad-path', 'DROVER_ERR_INVALID_STORE_PATH'],
        ['/agents/ghost', 'DROVER_ERR_UNKNOWN_AGENT'],
      ]);
      assert.match(details.find((d) => d.path === '/agents/ghost')!.message, /unknown agent "ghost"/);
      assert.match(details.find((d) => d.path === '/agents/bad-path')!.message, /not a store path/);

      const list = await api(t, 'GET', '/api/v1/deployments', { token: wsActivate });
      assert.equal(list.status, 200);
      assert.deepEqual(list.json.deployments, []);
      const agent = await api(t, 'GET', '/api/v1/agents/known-1', { token: wsActivate });
      assert.equal(agent.json.lastDeployment, null);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(
        socket.pending().filter((m) => m.type === 'deploy'),
        [],
        'no deploy frame',
      );
    });

    test("a deploy's activationTimeout and confirmTimeout reach the agent's deploy frame in ms; bad ones → 400 naming each", async () => {
      const ws = await createWorkspace(t.db, unique('deadlines'));
      const wsActivate = (await t.mint('activate', { workspaceId: ws.id })).token;
      const { socket } = await register((await t.mint('agent', { workspaceId: ws.id })).token, 'timed-1');
      const bad = await api(t, 'POST', '/api/v1/activate', {
        token: wsActivate,
        body: { agents: { 'timed-1': storePath('timed') }, activationTimeout: 'soon', confirmTimeout: '0s' },
      });
      assertError(bad, 'DROVER_ERR_INVALID_DEPLOY_SPEC');
      assert.deepEqual(
        (bad.json.details as { path: string }[]).map((d) => d.path),
        ['/activationTimeout', '/confirmTimeout'],
      );
      const res = await api(t, 'POST', '/api/v1/activate', {
        token: wsActivate,
        body: { agents: { 'timed-1': storePath('timed') }, activationTimeout: '5m', confirmTimeout: '30s' },
      });
      assert.equal(res.status, 201, JSON.stringify(res.json));
      const deploy = await socket.next('deploy');
      assert.equal(deploy.deployment.activationTimeoutMs, 300_000);
      assert.equal(deploy.deployment.confirmTimeoutMs, 30_000);
      const plain = await api(t, 'POST', '/api/v1/activate', { token: wsActivate, body: { agents: { 'timed-1': storePath('untimed') } } });
      assert.equal(plain.status, 201);
      const untimed = await socket.next('deploy');
      assert.ok(!('activationTimeoutMs' in untimed.deployment) && !('confirmTimeoutMs' in untimed.deployment), 'no deadline: the agent decides');
    });

    test('only unknown agents → 400 DROVER_ERR_UNKNOWN_AGENT', async () => {
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [unique('ghost')]: storePath('x') } } });
      assertError(res, 'DROVER_ERR_UNKNOWN_AGENT');
      assert.equal(res.json.details.length, 1);
    });

    test('invalid names are reported once, with escaped pointers, not also as unknown agents', async () => {
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { 'a/b': storePath('x'), 'c~d': storePath('y') } } });
      assertError(res, 'DROVER_ERR_INVALID_DEPLOY_SPEC');
      assert.deepEqual(
        res.json.details.map((d: { path: string; code: string }) => [d.path, d.code]),
        [
          ['/agents/a~1b', 'DROVER_ERR_INVALID_AGENT_NAME'],
          ['/agents/c~0d', 'DROVER_ERR_INVALID_AGENT_NAME'],
        ],
      );
    });
  });
}
