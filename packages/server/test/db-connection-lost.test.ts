/**
 * A server on PostgreSQL whose connections are terminated (issue 12 §1), as a
 * database restart, a failover or an idle reaper does: the server survives
 * and answers; a request in flight fails with 503
 * DROVER_ERR_DATABASE_UNAVAILABLE and its retry succeeds; an agent frame
 * whose processing hit the lost connection is closed with 1011 and stored
 * once the agent replays it; the bus's LISTEN connection comes back and
 * delivers deployments again. Only this server's connections are terminated
 * (`application_name = 'drover:<its schema>'`), never other tests'.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { dropSchema, findPostgres, randomSchema, sleep, waitFor } from '@drover/test-support';
import { assertError, unique } from './api-suite.js';
import { AgentSocket } from './fake-agent.js';
import { api, nowIso, startTestServer, storePath, type ApiResponse, type TestServer } from './support.js';

const postgres = await findPostgres();

describe('a server on PostgreSQL whose connections are terminated', { skip: postgres.skip }, () => {
  const schema = randomSchema('drover_lost_');
  const applicationName = `drover:${schema}`;
  let t: TestServer;
  let activate: string;
  let agentToken: string;
  /** The test's own connection: no application_name, so it is never terminated itself. */
  let admin: pg.Client;
  const sockets: AgentSocket[] = [];

  before(async () => {
    if (postgres.url === undefined) return;
    t = await startTestServer('postgres', { server: { databaseSchema: schema } });
    activate = (await t.mint('activate')).token;
    agentToken = (await t.mint('agent')).token;
    admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
  });
  after(async () => {
    for (const s of sockets) s.close();
    await t.close();
    await admin.end();
    if (postgres.url !== undefined) await dropSchema(postgres.url, schema);
  });

  /** Terminates every connection of this server (pool and LISTEN); returns how many. */
  async function terminateServerConnections(): Promise<number> {
    // The filter must run before pg_terminate_backend: a select list is evaluated only for rows the WHERE kept.
    const r = await admin.query<{ terminated: boolean }>('select pg_terminate_backend(pid) as terminated from pg_stat_activity where application_name = $1', [
      applicationName,
    ]);
    return r.rows.filter((row) => row.terminated).length;
  }

  /** Waits until a connection of this server waits for a lock (the request or frame is in flight). */
  async function waitForBlockedQuery(): Promise<void> {
    await waitFor('a server query to wait for the lock', async () => {
      const r = await admin.query("select 1 from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'", [applicationName]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  /** Waits until the bus LISTENs again on a fresh connection. */
  async function waitForListener(): Promise<void> {
    await waitFor('the bus to LISTEN again', async () => {
      const r = await admin.query("select 1 from pg_stat_activity where application_name = $1 and state = 'idle' and query ilike 'LISTEN %'", [
        applicationName,
      ]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  /**
   * GET /api/v1/agents until it answers 200. Pooled connections terminated
   * together die one by one: until the pool has heard of each, a request may
   * still pick one and get 503 DROVER_ERR_DATABASE_UNAVAILABLE (the only other
   * answer allowed); its retry gets a fresh connection.
   */
  async function retried(): Promise<ApiResponse> {
    return waitFor(
      'a 200 after the connections were lost',
      async () => {
        const r = await api(t, 'GET', '/api/v1/agents', { token: activate });
        if (r.status !== 200) assertError(r, 'DROVER_ERR_DATABASE_UNAVAILABLE');
        return r.status === 200 ? r : null;
      },
      10_000,
    );
  }

  async function register(name: string): Promise<AgentSocket> {
    const { socket } = await AgentSocket.register(t.wsUrl, agentToken, name);
    sockets.push(socket);
    return socket;
  }

  test('idle connections terminated: the server stays up and answers', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await api(t, 'GET', '/api/v1/agents', { token: activate })).status, 200);
    await waitForListener();
    assert.ok((await terminateServerConnections()) >= 2, 'the pool and the LISTEN connection were terminated');
    // Give the pool its 'error' events (the crash this test guards against happened here).
    await sleep(200);
    assert.equal((await retried()).status, 200);
  });

  test('a request in flight gets 503 DROVER_ERR_DATABASE_UNAVAILABLE and its retry succeeds', async () => {
    await admin.query('begin');
    try {
      await admin.query(`lock table ${schema}.tokens in access exclusive mode`);
      const inFlight = api(t, 'GET', '/api/v1/agents', { token: activate });
      await waitForBlockedQuery();
      assert.ok((await terminateServerConnections()) >= 1);
      assertError(await inFlight, 'DROVER_ERR_DATABASE_UNAVAILABLE', /lost its database connection/);
    } finally {
      await admin.query('rollback');
    }
    assert.equal((await retried()).status, 200);
  });

  test('a frame whose processing lost the connection is closed with 1011, and stored when the agent replays it', async () => {
    const name = unique('replay');
    const socket = await register(name);
    const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [name]: storePath('replay') } } });
    assert.equal(res.status, 201, res.text);
    const { deployment } = await socket.next('deploy');
    const log = { type: 'deployment.log', id: deployment.id, lines: [{ seq: 0, time: nowIso(), stream: 'stdout', text: 'before the failover' }] };
    await admin.query('begin');
    try {
      await admin.query(`lock table ${schema}.deployment_logs in access exclusive mode`);
      socket.send(log);
      await waitForBlockedQuery();
      await terminateServerConnections();
      const closed = await socket.closedWithin();
      assert.equal(closed.code, 1011, closed.reason);
      assert.match(closed.reason, /replay/);
    } finally {
      await admin.query('rollback');
    }
    // The agent reconnects and replays what was not acknowledged.
    const again = await register(name);
    again.send(log);
    again.send({ type: 'deployment.finished', id: deployment.id, time: nowIso(), status: 'Succeeded', reason: null, activePath: null });
    assert.equal((await again.next('deployment.ack')).id, deployment.id);
    const stored = await api(t, 'GET', `/api/v1/deployments/${deployment.id}/log`, { token: activate });
    assert.deepEqual(
      stored.json.lines.map((l: { text: string }) => l.text),
      ['before the failover'],
    );
    assert.equal(stored.json.deployment.status, 'Succeeded');
  });

  test('the bus LISTENs again after its connection was terminated and delivers a new deployment', async () => {
    const name = unique('bus');
    await waitForListener();
    assert.ok((await terminateServerConnections()) >= 1);
    await waitForListener();
    // Let the resync that follows the reconnect pass. The agent connects only now: a socket whose hello
    // was being stored when its connection died is closed with 1011 (a real agent reconnects and replays).
    await sleep(500);
    await retried();
    const socket = await register(name);
    const res = await waitFor('activate to be answered', async () => {
      const r = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [name]: storePath('after-the-bus-came-back') } } });
      return r.status === 201 ? r : null;
    });
    const { deployment } = await socket.next('deploy');
    assert.equal(deployment.id, res.json.agents[name].id);
  });
});
