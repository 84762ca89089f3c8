/**
 * Dry runs beside real deployments (deployments/dry-run.ts), over SQLite and
 * PostgreSQL: `POST …/activate?dry=true` creates deployments marked `dry`
 * whose order says `dry: true`; a dry run and a real deployment never
 * supersede each other (a newer dry run does supersede an older one); a dry
 * run never becomes the agent's latest deployment nor changes its current
 * path; the agent's `deployment.would-restart` is stored on dry runs only;
 * a re-run of a dry run is a dry run.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Deployment } from '@drover/protocol';
import { unique, useApiServer } from './api-suite.js';
import { api, backendCases, nowIso, storePath, type TestServer } from './support.js';

const UNITS = { restart: ['sshd.service', 'systemd'], start: ['new.service'], stop: ['old.service'], reload: ['dbus.service'] };

for (const { backend, skip } of await backendCases()) {
  describe(`dry runs over ${backend}`, { skip }, () => {
    let t: TestServer;
    let activate: string;
    const { register } = useApiServer(backend, (s) => ({ t, activate } = s));

    const activateOne = async (agent: string, path: string, dry: boolean) => {
      const res = await api(t, 'POST', dry ? '/api/v1/activate?dry=true' : '/api/v1/activate', { token: activate, body: { agents: { [agent]: path } } });
      assert.equal(res.status, 201, res.text);
      return res.json.agents[agent] as { id: string; index: number };
    };
    const deployment = async (id: string): Promise<Deployment> => (await api(t, 'GET', `/api/v1/deployments/${id}`, { token: activate })).json;
    const waitStatus = async (id: string, status: Deployment['status']): Promise<Deployment> => {
      for (let i = 0; i < 250; i++) {
        const d = await deployment(id);
        if (d.status === status) return d;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.fail(`deployment ${id} never became ${status}: ${JSON.stringify(await deployment(id))}`);
    };

    test('a dry run and a real deployment do not supersede each other; a newer dry run supersedes the older one; the latest stays the real one', async () => {
      const name = unique('dry-offline');
      await t.mint('agent', { agent: name });
      const real = await activateOne(name, storePath('real-1'), false);
      const dry = await activateOne(name, storePath('dry-1'), true);
      assert.equal(dry.index, real.index + 1, 'a dry run takes the next index');
      assert.equal((await deployment(real.id)).status, 'Pending', 'the dry run did not supersede the real deployment');
      const d = await deployment(dry.id);
      assert.equal(d.dry, true);
      assert.equal(d.wouldRestart, null);
      assert.equal((await deployment(real.id)).dry, false);

      const real2 = await activateOne(name, storePath('real-2'), false);
      assert.equal(real2.index, dry.index + 1);
      assert.equal((await deployment(real.id)).status, 'Superseded');
      assert.equal((await deployment(dry.id)).status, 'Pending', 'the real deployment did not supersede the dry run');
      const dry2 = await activateOne(name, storePath('dry-2'), true);
      assert.equal((await deployment(dry.id)).status, 'Superseded', 'a newer dry run supersedes the older');
      assert.equal((await deployment(real2.id)).status, 'Pending');

      const agent = (await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate })).json;
      assert.equal(agent.lastDeployment.id, real2.id, `the latest is the real deployment, not dry run #${String(dry2.index)}`);
    });

    test('the agent gets the dry order, reports its units; the current path stays; then the real one is delivered', async () => {
      const name = unique('dry-online');
      const token = (await t.mint('agent', { agent: name })).token;
      const { socket } = await register(token, name);
      const base = storePath('base');
      const laterPath = storePath('later');
      const first = await activateOne(name, base, false);
      const order = await socket.next('deploy');
      assert.equal(order.deployment.dry, undefined, 'a real order has no dry flag');
      socket.send({ type: 'deployment.started', id: first.id, time: nowIso() });
      socket.send({ type: 'deployment.finished', id: first.id, time: nowIso(), status: 'Succeeded', reason: null, activePath: base });
      await waitStatus(first.id, 'Succeeded');
      await socket.next('deployment.ack');

      const dry = await activateOne(name, storePath('candidate'), true);
      const dryOrder = await socket.next('deploy');
      assert.equal(dryOrder.deployment.id, dry.id);
      assert.equal(dryOrder.deployment.dry, true);
      // A real deployment created meanwhile waits for the dry run (one at a time) and is not superseded by it.
      const later = await activateOne(name, laterPath, false);
      socket.send({ type: 'deployment.started', id: dry.id, time: nowIso() });
      socket.send({ type: 'deployment.would-restart', id: dry.id, wouldRestart: UNITS });
      // Even an activePath other than the current one does not move the agent's current path.
      socket.send({
        type: 'deployment.finished',
        id: dry.id,
        time: nowIso(),
        status: 'Succeeded',
        reason: 'dry run, nothing was switched',
        activePath: storePath('candidate'),
      });
      const done = await waitStatus(dry.id, 'Succeeded');
      assert.equal(done.dry, true);
      assert.deepEqual(done.wouldRestart, UNITS);
      const agent = (await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate })).json;
      assert.equal(agent.currentStorePath, base, 'the dry run did not change the current path');
      assert.equal(agent.lastDeployment.id, later.id);
      await socket.next('deployment.ack');
      const next = await socket.next('deploy');
      assert.equal(next.deployment.id, later.id, 'the real deployment created during the dry run is delivered');

      // would-restart for a real deployment is not stored.
      socket.send({ type: 'deployment.would-restart', id: later.id, wouldRestart: UNITS });
      socket.send({ type: 'deployment.finished', id: later.id, time: nowIso(), status: 'Succeeded', reason: null, activePath: laterPath });
      const real = await waitStatus(later.id, 'Succeeded');
      assert.equal(real.wouldRestart, null);
      assert.equal((await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate })).json.currentStorePath, laterPath);

      const rerun = await api(t, 'POST', `/api/v1/deployments/${dry.id}/rerun`, { token: activate });
      assert.equal(rerun.status, 201, rerun.text);
      assert.equal(rerun.json.dry, true, 'a re-run of a dry run is a dry run');
      let rerunOrder = await socket.next('deploy');
      while (rerunOrder.deployment.id !== rerun.json.id) rerunOrder = await socket.next('deploy'); // `later` again, sent on creation and after the dry run
      assert.equal(rerunOrder.deployment.dry, true);
    });
  });
}
