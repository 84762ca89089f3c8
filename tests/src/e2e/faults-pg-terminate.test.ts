/**
 * PostgreSQL terminating the server's connections again and again while it
 * is under load (issue 14 §3; the unit test db-connection-lost.test.ts
 * covers one termination of an in-process server, workers-db-lost one of a
 * cluster at rest), end to end: a real `drover server` on PostgreSQL, three
 * real agents, real Nix. For 8 s, activations, agent lists and deployment
 * reads run back to back while every 600 ms `pg_terminate_backend` ends each
 * connection with `application_name = 'drover:<schema>'` (only this
 * server's). Every request answers within 15 s — 2xx, or 503
 * DROVER_ERR_DATABASE_UNAVAILABLE, never a 500 or a hang — the server process
 * never exits, and every deployment the server accepted ends: Superseded by
 * a newer one of its agent, or Succeeded; each agent's newest Succeeded and
 * is what its profile points to.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { FINAL_STATUSES, type DeploymentStatus } from '@drover/protocol';
import { deleteFromStore, findPostgres, sleep, waitFor } from '@drover/test-support';
import { PG_URL } from '../support/drover.js';
import { bigPlainProfile } from './faults.js';
import { activePath, World, type TestAgent } from './harness.js';

const LOAD_MS = 8000;
const REQUEST_TIMEOUT_MS = 15_000;
const postgres = await findPostgres();

interface Outcome {
  readonly what: string;
  readonly status: number | 'timeout' | 'network error';
  readonly code?: string;
}

describe('PostgreSQL connections terminated under load', { timeout: 300_000, skip: postgres.skip }, () => {
  const world = new World('postgres');
  const paths: string[] = [];
  before(async () => {
    await world.setUp();
    for (const name of ['pg-a', 'pg-b']) paths.push(await bigPlainProfile(world.dir, name, 1));
  });
  after(async () => {
    await world.tearDown();
    if (!process.env['DROVER_TEST_KEEP']) await deleteFromStore(paths); // once the agents' GC roots under world.dir are gone
  });

  /** One bounded API request: its status (and error code), or that it timed out. */
  async function request(what: string, method: string, path: string, body?: unknown): Promise<Outcome & { json?: unknown }> {
    try {
      const res = await fetch(`${world.server.url}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${world.activateToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      const json: unknown = text ? JSON.parse(text) : null;
      const code = typeof json === 'object' && json !== null && 'code' in json && typeof json.code === 'string' ? json.code : undefined;
      return { what, status: res.status, ...(code ? { code } : {}), json };
    } catch (err) {
      return { what, status: err instanceof Error && err.name === 'TimeoutError' ? 'timeout' : 'network error' };
    }
  }

  test('the server recovers without a restart, no request hangs, no accepted deployment is lost', async () => {
    const agents: TestAgent[] = [];
    for (let i = 0; i < 3; i++) agents.push(await world.agent());
    const schema = world.backend.flags[world.backend.flags.indexOf('--database-schema') + 1];
    assert.ok(schema !== undefined);
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    const outcomes: Outcome[] = [];
    const accepted: { id: string; path: string }[] = [];
    let terminated = 0;
    try {
      const until = Date.now() + LOAD_MS;
      const activations = (async () => {
        for (let i = 0; Date.now() < until; i++) {
          const agent = agents[i % agents.length]!;
          const path = paths[Math.floor(i / agents.length) % paths.length]!;
          // The paths are in this machine's store, which the agents share, and never pushed: no cache check.
          const r = await request('activate', 'POST', '/activate?cacheCheck=false', { agents: { [agent.name]: path } });
          outcomes.push(r);
          if (r.status === 201) {
            const created = (r.json as { agents?: Record<string, { id: string }> } | undefined)?.agents ?? {};
            for (const d of Object.values(created)) accepted.push({ id: d.id, path });
          }
          await sleep(250);
        }
      })();
      const reads = (async () => {
        while (Date.now() < until) {
          outcomes.push(await request('agents', 'GET', '/agents'));
          outcomes.push(await request('deployments', 'GET', '/deployments?limit=20'));
        }
      })();
      const killer = (async () => {
        while (Date.now() < until) {
          await sleep(600);
          const r = await admin.query<{ terminated: boolean }>(
            'select pg_terminate_backend(pid) as terminated from pg_stat_activity where application_name = $1',
            [`drover:${schema}`],
          );
          terminated += r.rows.filter((row) => row.terminated).length;
        }
      })();
      await Promise.all([activations, reads, killer]);
    } finally {
      await admin.end();
    }

    assert.ok(terminated >= 10, `${terminated} connections terminated`);
    const bad = outcomes.filter(
      (o) => !(typeof o.status === 'number' && ((o.status >= 200 && o.status < 300) || (o.status === 503 && o.code === 'DROVER_ERR_DATABASE_UNAVAILABLE'))),
    );
    assert.deepEqual(bad, [], 'every request answered in time with 2xx or 503 DROVER_ERR_DATABASE_UNAVAILABLE');
    assert.ok(accepted.length >= 5, `${accepted.length} deployments accepted under load`);
    assert.ok(world.server.proc.running, 'the server never exited');
    assert.doesNotMatch(world.server.proc.output, /uncaught|unhandled/i);

    // Each accepted deployment ends: Superseded when a newer one for its agent came first, else run to Succeeded.
    const finals = new Map<string, { status: string; agent: string }>();
    for (const d of accepted) {
      let last: unknown;
      const done = await waitFor(
        `deployment ${d.id} to end`,
        async () => {
          const r = await request('deployment', 'GET', `/deployments/${d.id}`);
          last = r.json;
          const got = r.json as { status?: string; agent?: string } | undefined;
          return got?.status && got.agent && FINAL_STATUSES.includes(got.status as DeploymentStatus) ? { status: got.status, agent: got.agent } : null;
        },
        60_000,
        250,
      ).catch((err: unknown) => {
        const owner = agents.find((a) => a.name === (last as { agent?: string } | undefined)?.agent);
        throw new Error(
          `${String(err)}: ${JSON.stringify(last)}\nagent:\n${owner?.proc.output.slice(-10000) ?? '?'}\nserver:\n${world.server.proc.output.slice(-20000)}`,
        );
      });
      finals.set(d.id, done);
    }
    for (const [id, { status }] of finals) assert.ok(status === 'Succeeded' || status === 'Superseded', `deployment ${id} ended ${status}`);
    // Each agent's newest deployment, as the server has it, Succeeded and is what its profile shows. (The newest the
    // client saw accepted may still be Superseded: a POST whose commit went through while the connection was being
    // terminated can answer 503 — the client cannot tell a commit whose acknowledgement was lost from one that failed.)
    for (const agent of agents) {
      const newest = await waitFor(
        `the newest deployment of ${agent.name} to end`,
        async () => {
          const last = await request('last', 'GET', `/deployments?agent=${agent.name}&limit=1`);
          const row = (last.json as { deployments?: { status: string; storePath: string }[] } | undefined)?.deployments?.[0];
          return row && FINAL_STATUSES.includes(row.status as DeploymentStatus) ? row : null;
        },
        60_000,
        250,
      );
      assert.equal(newest.status, 'Succeeded', `the newest deployment of ${agent.name}`);
      assert.equal(await activePath(agent.profile), newest.storePath);
      assert.equal(agent.proc.running, true);
    }
  });
});
