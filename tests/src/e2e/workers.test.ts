/**
 * `drover server --workers 2`: two server processes share one port. Agents
 * land on both; one activate reaches all of them, so deployments cross from
 * the worker that took the request to the other one (over the IPC bus on
 * SQLite, LISTEN/NOTIFY on PostgreSQL).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/drover.js';
import { activePath, freshHealth, World } from './harness.js';

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`drover server --workers 2 on ${kind}`, { timeout: 300_000 }, () => {
    const world = new World(kind, ['--workers', '2']);
    before(() => world.setUp());
    after(() => world.tearDown());

    test('agents spread over both workers all get one activation', async () => {
      const agents = [];
      for (let i = 0; i < 4; i++) agents.push(await world.agent());
      const perReplica = await waitFor('both workers to hold agents', async () => {
        const seen = new Map<string, number>();
        for (let i = 0; i < 12; i++) {
          const h = await freshHealth(world.server.url);
          seen.set(h.replica, h.agentsConnected);
        }
        const total = [...seen.values()].reduce((a, b) => a + b, 0);
        return seen.size === 2 && total === 4 ? seen : null;
      });
      assert.ok(
        [...perReplica.values()].every((n) => n >= 1),
        `each worker holds agents: ${JSON.stringify([...perReplica])}`,
      );
      const spec = await world.specFile(Object.fromEntries(agents.map((a) => [a.name, world.fixtures.plain])));
      const r = await world.activate([spec]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal((r.stdout.match(/Deployed successfully/g) ?? []).length, 4);
      for (const a of agents) assert.equal(await activePath(a.profile), world.fixtures.plain);
    });

    test('the primary stops every worker on SIGTERM and exits 0', async () => {
      const proc = world.server.proc;
      await proc.stop('SIGTERM');
      assert.equal(await proc.exited, 0, proc.output);
      await waitFor(
        'the port to close',
        async () => {
          try {
            await fetch(`${world.server.url}/api/v1/health`);
            return false;
          } catch {
            return true;
          }
        },
        15_000,
      );
    });
  });
}
