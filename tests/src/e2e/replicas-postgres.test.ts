/**
 * Several stateless server replicas on one PostgreSQL database: a deployment
 * created through one replica reaches an agent connected to another, and
 * the live log streamed by the first shows lines the second stored.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Agent } from '@drover/protocol';
import { api, startServer, waitFor, type ServerHandle } from '../support/drover.js';
import { activePath, deploymentIds, World } from './harness.js';

describe('two replicas on PostgreSQL', { timeout: 300_000 }, () => {
  const world = new World('postgres');
  let second: ServerHandle;
  before(async () => {
    await world.setUp();
    second = await startServer(world.backend);
    world.onTearDown(() => second.stop());
  });
  after(() => world.tearDown());

  test('activate through replica B deploys to an agent connected to replica A, with live logs', async () => {
    const f = world.fixtures;
    const agent = await world.agent({ server: world.server.url });
    const r = await world.activate([await world.specFile({ [agent.name]: f.nixos }, f.rollback_ok)], world.activateToken, second.url);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /switching to configuration/, 'log lines stored by replica A streamed through replica B');
    assert.match(r.stdout, /Deployed successfully/);
    assert.equal(await activePath(agent.profile), f.nixos);
    const id = deploymentIds(r.stdout).get(agent.name)!;
    const seenByA = await api<{ status: string }>(world.server.url, world.activateToken, 'GET', `/deployments/${id}`);
    assert.equal(seenByA.json.status, 'Succeeded');
  });

  test('both replicas report the agent online; after replica A stops, the agent reconnects to B and deploys', async () => {
    const f = world.fixtures;
    const agent = await world.agent({ server: world.server.url });
    for (const url of [world.server.url, second.url]) {
      const a = await api<Agent>(url, world.activateToken, 'GET', `/agents/${agent.name}`);
      assert.equal(a.json.online, true, `online as seen from ${url}`);
    }
    // Point the agent at B (as a load balancer would after A goes away) and stop A.
    await agent.proc.stop();
    await world.server.stop();
    const moved = await world.agent({ name: agent.name, server: second.url });
    const r = await world.activate([await world.specFile({ [agent.name]: f.nixos_b })], world.activateToken, second.url);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await activePath(moved.profile), f.nixos_b);
    const listed = await waitFor('agent listed online via B', async () => {
      const a = await api<Agent>(second.url, world.activateToken, 'GET', `/agents/${agent.name}`);
      return a.json.online ? a.json : null;
    });
    assert.equal(listed.currentStorePath, f.nixos_b);
  });
});
