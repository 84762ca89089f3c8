/**
 * `drover server --workers 2` on PostgreSQL when the database drops every
 * connection of the server (issue 12 §1: a restart, a failover, an idle
 * reaper): no worker dies (both keep their replica id, the primary restarts
 * nothing), each logs the lost connection, and an activation afterwards
 * reaches agents on both workers — so the LISTEN connections came back and
 * deployments cross between workers over the bus again. Only this server's
 * connections are terminated (`application_name = 'drover:<its schema>'`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { sleep } from '@drover/test-support';
import { PG_URL, waitFor } from '../support/drover.js';
import { activePath, freshHealth, World } from './harness.js';

/** Replica id → agents held, over new TCP connections (the cluster spreads them over the workers). */
async function replicas(server: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < 12; i++) {
    const health = await freshHealth(server);
    seen.set(health.replica, health.agentsConnected);
  }
  return seen;
}

describe('drover server --workers 2 on postgres when the database drops its connections', { timeout: 300_000 }, () => {
  const world = new World('postgres', ['--workers', '2']);
  before(() => world.setUp());
  after(() => world.tearDown());

  test('no worker dies, and an activation reaches agents on both workers afterwards', async () => {
    const agents = [];
    for (let i = 0; i < 4; i++) agents.push(await world.agent());
    const before = await waitFor('both workers to hold agents', async () => {
      const seen = await replicas(world.server.url);
      const total = [...seen.values()].reduce((a, b) => a + b, 0);
      return seen.size === 2 && total === 4 && [...seen.values()].every((n) => n >= 1) ? seen : null;
    });

    const schema = world.backend.flags[world.backend.flags.indexOf('--database-schema') + 1];
    assert.ok(schema !== undefined);
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      // The WHERE runs before the select list: only this server's connections are terminated.
      const r = await admin.query<{ terminated: boolean }>('select pg_terminate_backend(pid) as terminated from pg_stat_activity where application_name = $1', [
        `drover:${schema}`,
      ]);
      assert.ok(r.rows.filter((row) => row.terminated).length >= 2, 'each worker held at least its LISTEN connection');
      await waitFor('both workers to LISTEN again', async () => {
        const listening = await admin.query("select 1 from pg_stat_activity where application_name = $1 and state = 'idle' and query ilike 'LISTEN %'", [
          `drover:${schema}`,
        ]);
        return (listening.rowCount ?? 0) >= 2;
      });
    } finally {
      await admin.end();
    }
    // A worker that died would be restarted after 1 s with a new replica id.
    await sleep(1500);
    assert.ok(world.server.proc.running, world.server.proc.output);
    const afterKill = await replicas(world.server.url);
    assert.deepEqual([...afterKill.keys()].sort(), [...before.keys()].sort(), 'the same two workers answer');
    assert.doesNotMatch(world.server.proc.output, /server worker died/);

    const spec = await world.specFile(Object.fromEntries(agents.map((a) => [a.name, world.fixtures.plain])));
    const r = await waitFor(
      'an activation after the connections were lost',
      async () => {
        const run = await world.activate([spec]);
        // A request that met a dead connection is 503 DROVER_ERR_DATABASE_UNAVAILABLE: retried.
        if (run.code !== 0) assert.match(run.stdout + run.stderr, /DROVER_ERR_DATABASE_UNAVAILABLE/);
        return run.code === 0 ? run : null;
      },
      120_000,
      500,
    );
    assert.equal((r.stdout.match(/Deployed successfully/g) ?? []).length, 4, r.stdout);
    for (const a of agents) assert.equal(await activePath(a.profile), world.fixtures.plain);
  });
});
