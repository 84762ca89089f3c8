/**
 * Webhooks and usage over SQLite and PostgreSQL, against a real HTTP
 * receiver on 127.0.0.1 and fake agents: the secret shown once and stored
 * sealed; deployment, activation and rollout events signed with HMAC-SHA256;
 * retries with backoff that end (delivered, or failed after the last
 * attempt); the Slack format; agent.offline once per spell; the delivery log
 * and redelivery; admins only. On PostgreSQL two replicas share the
 * database and each event reaches the receiver once. Usage: the peak of
 * agents at once and agent-hours, in the API and /metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import type { StorePath } from '@drover/protocol';
import { dropSchema, findPostgres, randomSchema, sleep, tempDir, waitFor, type TempDir } from '@drover/test-support';
import { createToken } from '../src/auth/tokens.js';
import { createWorkspace } from '../src/workspaces/repository.js';
import { startServer, type RunningServer } from '../src/server.js';
import { assertError, unique } from './api-suite.js';
import { AgentSocket } from './fake-agent.js';
import { backendCases, nowIso, storePath, type ApiResponse, type BackendName } from './support.js';

interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** An HTTP server on 127.0.0.1:0 that records every request; `/fail-N/…` answers 500 to the first N requests of its path, `/down/…` always 503. */
class Receiver {
  readonly got: Received[] = [];
  private readonly seen = new Map<string, number>();
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.got.push({ path, headers: req.headers, body });
        const n = (this.seen.get(path) ?? 0) + 1;
        this.seen.set(path, n);
        const fail = /^\/fail-(\d+)\//.exec(path);
        const status = path.startsWith('/down/') ? 503 : fail && n <= Number(fail[1]) ? 500 : 200;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (typeof address !== 'object' || !address) throw new Error('receiver has no address');
    this.url = `http://127.0.0.1:${address.port}`;
  }

  on(path: string): Received[] {
    return this.got.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

/** A database that outlives the servers on it (two replicas on PostgreSQL). */
class Place {
  private dir: TempDir | undefined;
  private url: string | undefined;
  private schema: string | undefined;
  private keyDir: TempDir | undefined;
  readonly servers: RunningServer[] = [];

  constructor(readonly backend: BackendName) {}

  /** A server on the database; `keyFile` other than the shared one makes a misconfigured replica. */
  async start(keyFile?: string): Promise<RunningServer> {
    this.keyDir ??= await tempDir('drover-webhook-key-');
    if (this.backend === 'sqlite') this.dir ??= await tempDir('drover-webhook-test-');
    else {
      this.url = (await findPostgres()).url;
      this.schema ??= randomSchema('drover_webhook_');
    }
    const server = await startServer({
      listen: '127.0.0.1:0',
      dataDir: this.dir?.path ?? join(tmpdir(), 'drover-webhook-unused'),
      databaseUrl: this.url,
      databaseSchema: this.schema,
      logger: pino({ level: 'silent' }),
      // Replicas share one key file, as docs/webhooks.md says they must.
      webhooks: { keyFile: keyFile ?? join(this.keyDir.path, 'webhook.key'), pollMs: 100, sweepMs: 200, retryBaseMs: 150, maxAttempts: 3, timeoutMs: 2000 },
      usageSampleMs: 200,
    });
    this.servers.push(server);
    return server;
  }

  async remove(): Promise<void> {
    for (const s of this.servers) await s.close();
    await this.dir?.remove();
    await this.keyDir?.remove();
    if (this.url && this.schema) await dropSchema(this.url, this.schema);
  }
}

async function call(server: RunningServer, token: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<ApiResponse> {
  const res = await server.app.inject({
    method,
    url: `/api/v1${url}`,
    headers: { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });
  return { status: res.statusCode, headers: res.headers, json: res.body ? JSON.parse(res.body) : undefined, text: res.body };
}

interface Space {
  readonly name: string;
  readonly id: string;
  readonly admin: string;
  readonly activate: string;
  readonly agentToken: string;
}

async function space(server: RunningServer): Promise<Space> {
  const db = server.context.db;
  const ws = await createWorkspace(db, unique('hook'));
  return {
    name: ws.name,
    id: ws.id,
    admin: (await createToken(db, { workspaceId: ws.id, kind: 'admin' })).token,
    activate: (await createToken(db, { workspaceId: ws.id, kind: 'activate' })).token,
    agentToken: (await createToken(db, { workspaceId: ws.id, kind: 'agent', unbound: 'any' })).token,
  };
}

function wsUrl(server: RunningServer): string {
  return server.url.replace(/^http/, 'ws') + '/api/v1/agent/ws';
}

async function hook(server: RunningServer, s: Space, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const res = await call(server, s.admin, 'POST', '/webhooks', body);
  assert.equal(res.status, 201, res.text);
  return { id: res.json.webhook.id as string, secret: res.json.secret as string };
}

function verify(r: Received, secret: string): void {
  const expected = `sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`;
  assert.equal(r.headers['x-drover-signature'], expected, `signature of ${r.path}`);
  assert.equal(r.headers['content-type'], 'application/json');
}

/** Deploys `path` to the agent behind `socket` and reports it with `status`. */
async function deployOnce(
  server: RunningServer,
  s: Space,
  socket: AgentSocket,
  agent: string,
  path: StorePath,
  status: 'Succeeded' | 'Failed',
): Promise<string> {
  const res = await call(server, s.activate, 'POST', '/activate?cacheCheck=false', { agents: { [agent]: path } });
  assert.equal(res.status, 201, res.text);
  const frame = await socket.next('deploy', 20_000);
  socket.send({ type: 'deployment.started', id: frame.deployment.id, time: nowIso() });
  socket.send({
    type: 'deployment.finished',
    id: frame.deployment.id,
    time: nowIso(),
    status,
    reason: status === 'Failed' ? 'exit 1' : null,
    activePath: status === 'Succeeded' ? path : null,
  });
  return frame.deployment.id;
}

interface Body {
  id: string;
  event: string;
  workspace: string;
  deployment?: { id: string; status: string };
  activation?: { outcome: string };
  rollout?: { state: string };
  agent?: { name: string };
}

for (const { backend, skip } of await backendCases()) {
  describe(`webhooks and usage over ${backend}`, { skip }, () => {
    const place = new Place(backend);
    const receiver = new Receiver();
    let server: RunningServer;
    const sockets: AgentSocket[] = [];
    before(async () => {
      await receiver.start();
      server = await place.start();
    });
    after(async () => {
      for (const s of sockets) s.close();
      await place.remove();
      await receiver.stop();
    });

    test('the secret is shown once and stored sealed; only admins manage hooks; bad URLs are refused', async () => {
      const s = await space(server);
      const created = await call(server, s.admin, 'POST', '/webhooks', { url: `${receiver.url}/a`, events: ['deployment.finished'], description: 'ci' });
      assert.equal(created.status, 201, created.text);
      assert.match(created.json.secret, /^whsec_[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(created.json.webhook.events, ['deployment.finished']);
      assert.equal(created.json.webhook.format, 'json');
      assert.equal(created.json.webhook.offlineMinutes, 10);
      const list = await call(server, s.admin, 'GET', '/webhooks');
      assert.equal(list.status, 200);
      assert.equal(list.json.webhooks.length, 1);
      assert.ok(!list.text.includes(created.json.secret), 'the list carries no secret');
      const row = await server.context.db.selectFrom('webhooks').selectAll().where('id', '=', created.json.webhook.id).executeTakeFirstOrThrow();
      assert.ok(!JSON.stringify(row).includes(created.json.secret.slice(6)), 'the stored row holds no plaintext secret');
      assert.match(row.secret_ciphertext, /^v1:/);
      assertError(await call(server, s.activate, 'GET', '/webhooks'), 'DROVER_ERR_FORBIDDEN');
      assertError(await call(server, s.activate, 'POST', '/webhooks', { url: `${receiver.url}/x`, events: ['agent.offline'] }), 'DROVER_ERR_FORBIDDEN');
      assertError(
        await call(server, s.admin, 'POST', '/webhooks', { url: 'http://user:pw@example.com/', events: ['agent.offline'] }),
        'DROVER_ERR_INVALID_WEBHOOK_URL',
      );
      assertError(await call(server, s.admin, 'POST', '/webhooks', { url: 'ftp://example.com/', events: ['agent.offline'] }), 'DROVER_ERR_VALIDATION');
      assertError(await call(server, s.admin, 'POST', '/webhooks', { url: `${receiver.url}/y`, events: ['nope'] }), 'DROVER_ERR_VALIDATION');
      assertError(await call(server, s.admin, 'DELETE', '/webhooks/not-an-id'), 'DROVER_ERR_WEBHOOK_NOT_FOUND');
      const patched = await call(server, s.admin, 'PATCH', `/webhooks/${created.json.webhook.id}`, {
        enabled: false,
        events: ['agent.offline', 'deployment.started'],
      });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.json.enabled, false);
      assert.deepEqual(patched.json.events, ['agent.offline', 'deployment.started']);
      const removed = await call(server, s.admin, 'DELETE', `/webhooks/${created.json.webhook.id}`);
      assert.equal(removed.status, 204);
      assert.equal((await call(server, s.admin, 'GET', '/webhooks')).json.webhooks.length, 0);
      // Deleting the workspace takes its hooks and their deliveries along.
      const other = await hook(server, s, { url: `${receiver.url}/gone`, events: ['deployment.finished'] });
      assert.equal((await call(server, s.admin, 'POST', `/webhooks/${other.id}/test`)).status, 202);
      const deleted = await call(server, s.admin, 'DELETE', `/workspaces/${s.name}?confirm=${s.name}`);
      assert.equal(deleted.status, 204, deleted.text);
      assert.equal((await server.context.db.selectFrom('webhooks').select('id').where('id', '=', other.id).execute()).length, 0);
      assert.equal((await server.context.db.selectFrom('webhook_deliveries').select('id').where('webhook_id', '=', other.id).execute()).length, 0);
    });

    test('a deployment sends started, finished and activation.finished, each signed, and the log says delivered', async () => {
      const s = await space(server);
      const path = `/ok-${s.name}`;
      const h = await hook(server, s, { url: `${receiver.url}${path}`, events: ['deployment.started', 'deployment.finished', 'activation.finished'] });
      const { socket } = await AgentSocket.register(wsUrl(server), s.agentToken, 'web-1');
      sockets.push(socket);
      const id = await deployOnce(server, s, socket, 'web-1', storePath('hooked'), 'Failed');
      await waitFor('three deliveries', () => receiver.on(path).length >= 3, 20_000);
      await sleep(600); // nothing more arrives (no duplicates from later bus events or sweeps)
      const got = receiver.on(path);
      assert.equal(got.length, 3, JSON.stringify(got.map((r) => r.body)));
      for (const r of got) verify(r, h.secret);
      const bodies = got.map((r) => JSON.parse(r.body) as Body);
      const byEvent = new Map(bodies.map((b) => [b.event, b]));
      assert.deepEqual([...byEvent.keys()].sort(), ['activation.finished', 'deployment.finished', 'deployment.started']);
      assert.equal(byEvent.get('deployment.finished')?.deployment?.id, id);
      assert.equal(byEvent.get('deployment.finished')?.deployment?.status, 'Failed');
      assert.equal(byEvent.get('activation.finished')?.activation?.outcome, 'failed');
      const sent = JSON.parse(got.find((r) => r.headers['x-drover-event'] === 'deployment.finished')?.body ?? '{}') as { deployment: Record<string, unknown> };
      assert.ok(!('diff' in sent.deployment), 'the closure diff is cut to its summary');
      assert.equal(sent.deployment['changes'], null);
      assert.equal(sent.deployment['agent'], 'web-1');
      for (const [i, r] of got.entries()) {
        assert.equal(r.headers['x-drover-delivery'], bodies[i]?.id);
        assert.equal(r.headers['x-drover-event'], bodies[i]?.event);
        assert.equal(bodies[i]?.workspace, s.name);
      }
      const log = await call(server, s.admin, 'GET', `/webhooks/${h.id}/deliveries`);
      assert.equal(log.status, 200, log.text);
      assert.equal(log.json.deliveries.length, 3);
      for (const d of log.json.deliveries) {
        assert.equal(d.status, 'delivered');
        assert.equal(d.attempts, 1);
        assert.equal(d.responseStatus, 200);
        assert.equal(d.nextAttemptAt, null);
      }
    });

    test("a corrected outcome is one more deployment.finished: an operator's end, then the agent's own report", async () => {
      const s = await space(server);
      const path = `/fix-${s.name}`;
      await hook(server, s, { url: `${receiver.url}${path}`, events: ['deployment.finished'] });
      const { socket } = await AgentSocket.register(wsUrl(server), s.agentToken, 'slow-1');
      sockets.push(socket);
      const target = storePath('fixed');
      assert.equal((await call(server, s.activate, 'POST', '/activate?cacheCheck=false', { agents: { 'slow-1': target } })).status, 201);
      const frame = await socket.next('deploy', 20_000);
      socket.send({ type: 'deployment.started', id: frame.deployment.id, time: nowIso() });
      await waitFor(
        'InProgress',
        async () => (await call(server, s.activate, 'GET', `/deployments/${frame.deployment.id}`)).json?.status === 'InProgress',
        20_000,
      );
      const ended = await call(server, s.activate, 'POST', `/deployments/${frame.deployment.id}/end`, { reason: 'the machine is gone' });
      assert.equal(ended.status, 200, ended.text);
      await waitFor('the Failed delivery', () => receiver.on(path).length >= 1, 20_000);
      socket.send({ type: 'deployment.finished', id: frame.deployment.id, time: nowIso(), status: 'Succeeded', reason: null, activePath: target });
      await waitFor('the Succeeded delivery', () => receiver.on(path).length >= 2, 20_000);
      await sleep(600);
      const statuses = receiver.on(path).map((r) => (JSON.parse(r.body) as Body).deployment?.status);
      assert.deepEqual(statuses, ['Failed', 'Succeeded']);
    });

    test('retries back off and end: delivered on the third attempt, or failed after the last and never sent again', async () => {
      const s = await space(server);
      const flaky = `/fail-2/${s.name}`;
      const down = `/down/${s.name}`;
      const a = await hook(server, s, { url: `${receiver.url}${flaky}`, events: ['deployment.finished'] });
      const b = await hook(server, s, { url: `${receiver.url}${down}`, events: ['deployment.finished'] });
      assert.equal((await call(server, s.admin, 'POST', `/webhooks/${a.id}/test`)).status, 202);
      const ping = await call(server, s.admin, 'POST', `/webhooks/${b.id}/test`);
      assert.equal(ping.status, 202, ping.text);
      assert.equal(ping.json.event, 'ping');
      const done = async (id: string) => {
        const log = await call(server, s.admin, 'GET', `/webhooks/${id}/deliveries`);
        return log.json.deliveries[0]?.status !== 'pending' ? log.json.deliveries[0] : undefined;
      };
      const delivered = await waitFor('the flaky hook delivered', () => done(a.id), 20_000);
      assert.equal(delivered.status, 'delivered');
      assert.equal(delivered.attempts, 3);
      const failed = await waitFor('the down hook failed', () => done(b.id), 20_000);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.attempts, 3);
      assert.equal(failed.responseStatus, 503);
      assert.match(failed.error, /HTTP 503/);
      await sleep(800);
      assert.equal(receiver.on(flaky).length, 3);
      assert.equal(receiver.on(down).length, 3, 'no attempt after the last');
      const times = receiver.on(down).map((r) => JSON.parse(r.body) as Body);
      assert.ok(
        times.every((t) => t.id === ping.json.id),
        'every attempt carries the same delivery id',
      );
      // A redelivery sends the same body again.
      const again = await call(server, s.admin, 'POST', `/webhooks/${a.id}/deliveries/${delivered.id}/retry`);
      assert.equal(again.status, 202, again.text);
      await waitFor('the redelivery', () => receiver.on(flaky).length === 4, 20_000);
      assert.equal(receiver.on(flaky)[3]?.body, receiver.on(flaky)[2]?.body);
      verify(receiver.on(flaky)[3]!, a.secret);
    });

    test('a disabled hook gets nothing sent; what stays pending a day fails, saying why', async () => {
      const s = await space(server);
      const path = `/paused-${s.name}`;
      const h = await hook(server, s, { url: `${receiver.url}${path}`, events: ['deployment.finished'] });
      assert.equal((await call(server, s.admin, 'PATCH', `/webhooks/${h.id}`, { enabled: false })).status, 200);
      const ping = await call(server, s.admin, 'POST', `/webhooks/${h.id}/test`);
      assert.equal(ping.status, 202, ping.text);
      await sleep(800);
      assert.equal(receiver.on(path).length, 0, 'nothing is sent to a disabled hook');
      const db = server.context.db;
      await db
        .updateTable('webhook_deliveries')
        .set({ created_at: new Date(Date.now() - 25 * 60 * 60_000).toISOString() })
        .where('id', '=', ping.json.id)
        .execute();
      const failed = await waitFor(
        'the expired delivery',
        () =>
          db
            .selectFrom('webhook_deliveries')
            .selectAll()
            .where('id', '=', ping.json.id)
            .executeTakeFirst()
            .then((r) => (r?.status === 'failed' ? r : undefined)),
        20_000,
      );
      assert.match(failed.error ?? '', /not sent within 24 hours/);
      assert.equal(failed.attempts, 0);
      assert.equal(receiver.on(path).length, 0);
    });

    test('the Slack format carries text with a link; a staged rollout sends rollout.finished', async () => {
      const s = await space(server);
      const path = `/slack-${s.name}`;
      await hook(server, s, { url: `${receiver.url}${path}`, events: ['deployment.finished', 'rollout.finished'], format: 'slack' });
      const { socket } = await AgentSocket.register(wsUrl(server), s.agentToken, 'db-1');
      sockets.push(socket);
      const target = storePath('rolled');
      const res = await call(server, s.activate, 'POST', '/activate?cacheCheck=false', { agents: { 'db-1': target }, rollout: { waves: [{ percent: 100 }] } });
      assert.equal(res.status, 201, res.text);
      const frame = await socket.next('deploy', 20_000);
      socket.send({ type: 'deployment.started', id: frame.deployment.id, time: nowIso() });
      socket.send({ type: 'deployment.finished', id: frame.deployment.id, time: nowIso(), status: 'Succeeded', reason: null, activePath: target });
      await waitFor('two Slack deliveries', () => receiver.on(path).length >= 2, 20_000);
      await sleep(600);
      const texts = receiver.on(path).map((r) => (JSON.parse(r.body) as { text: string }).text);
      assert.equal(texts.length, 2, texts.join('\n'));
      for (const r of receiver.on(path)) assert.deepEqual(Object.keys(JSON.parse(r.body) as object), ['text']);
      assert.ok(
        texts.some((t) => /Deployment #1>? of db-1: \*Succeeded\*/.test(t) && t.includes(`<${server.url}/w/${s.name}/deployments/${frame.deployment.id}|`)),
        texts.join('\n'),
      );
      assert.ok(
        texts.some((t) => t.includes('Rollout>') && t.includes('completed')),
        texts.join('\n'),
      );
    });

    test('agent.offline fires once per offline spell longer than the minutes, and not for spells before the hook', async () => {
      const s = await space(server);
      const path = `/offline-${s.name}`;
      const db = server.context.db;
      const { socket } = await AgentSocket.register(wsUrl(server), s.agentToken, 'edge-1');
      socket.close();
      await socket.closed;
      const agent = await waitFor('edge-1 disconnected', () =>
        db
          .selectFrom('agents')
          .select(['id', 'connection_id'])
          .where('workspace_id', '=', s.id)
          .where('name', '=', 'edge-1')
          .executeTakeFirst()
          .then((r) => (r?.connection_id === null ? r : undefined)),
      );
      const h = await hook(server, s, { url: `${receiver.url}${path}`, events: ['agent.offline'], offlineMinutes: 2 });
      // The spell began 3 minutes ago (after the hook, created "5 minutes ago"): more than 2 minutes offline.
      const ago = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
      await db
        .updateTable('webhooks')
        .set({ created_at: ago(5) })
        .where('id', '=', h.id)
        .execute();
      await db
        .updateTable('agents')
        .set({ last_seen_at: ago(3), disconnected_at: ago(3) })
        .where('id', '=', agent.id)
        .execute();
      await db.deleteFrom('agent_presence').where('agent_id', '=', agent.id).execute();
      await waitFor('the offline delivery', () => receiver.on(path).length >= 1, 20_000);
      await sleep(800); // several sweeps later: still one
      assert.equal(receiver.on(path).length, 1);
      const body = JSON.parse(receiver.on(path)[0]!.body) as Body & { agent: { name: string; offlineMinutes: number; lastSeenAt: string } };
      assert.equal(body.event, 'agent.offline');
      assert.equal(body.agent.name, 'edge-1');
      assert.equal(body.agent.offlineMinutes, 2);
      verify(receiver.on(path)[0]!, h.secret);
      // A spell that began long before the hook existed is not reported.
      await db
        .updateTable('agents')
        .set({ last_seen_at: ago(30) })
        .where('id', '=', agent.id)
        .execute();
      await sleep(800);
      assert.equal(receiver.on(path).length, 1);
    });

    test('usage: the peak of agents at once and agent-hours, in the API and /metrics', async () => {
      const s = await space(server);
      const first = await AgentSocket.register(wsUrl(server), s.agentToken, 'u-1');
      const second = await AgentSocket.register(wsUrl(server), s.agentToken, 'u-2');
      sockets.push(first.socket, second.socket);
      const usage = async () =>
        (await call(server, s.admin, 'GET', '/usage')).json as { workspace: string; months: { month: string; peakAgents: number; agentHours: number }[] };
      const month = new Date().toISOString().slice(0, 7);
      const seen = await waitFor(
        'peak 2 and some agent time',
        async () => {
          const u = await usage();
          return u.months[0]?.peakAgents === 2 && u.months[0].agentHours > 0 ? u : undefined;
        },
        20_000,
        100,
      );
      assert.equal(seen.workspace, s.name);
      assert.equal(seen.months[0]?.month, month);
      second.socket.close();
      await second.socket.closed;
      await sleep(1500);
      const later = await usage();
      assert.equal(later.months[0]?.peakAgents, 2, 'the peak stays after an agent left');
      // 200 ms slots: a few seconds of one or two agents are above zero and far below an hour.
      assert.ok(later.months[0].agentHours >= seen.months[0].agentHours && later.months[0].agentHours < 0.01, JSON.stringify(later));
      const metrics = await server.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${s.admin}` } });
      assert.equal(metrics.statusCode, 200, metrics.body);
      assert.match(metrics.body, new RegExp(`drover_usage_peak_agents\\{workspace="${s.name}"\\} 2`));
      assert.match(metrics.body, /drover_webhook_attempts_total\{result="delivered"\} [1-9]/);
      assert.match(metrics.body, /drover_webhook_attempts_total\{result="retry"\} [1-9]/);
      assert.match(metrics.body, /drover_webhook_attempts_total\{result="failed"\} [1-9]/);
      assert.match(metrics.body, new RegExp(`drover_usage_agent_hours\\{workspace="${s.name}"\\} `));
      const other = await call(server, s.activate, 'GET', '/usage');
      assert.equal(other.status, 200, 'deployers and viewers read usage');
    });

    test(
      'a replica with another webhook key never sends; one with the shared key does',
      { skip: backend === 'sqlite' ? 'one SQLite server at a time' : false },
      async () => {
        const otherKey = await tempDir('drover-webhook-other-key-');
        try {
          const wrong = await place.start(join(otherKey.path, 'webhook.key'));
          const s = await space(server);
          const path = `/keys-${s.name}`;
          const h = await hook(server, s, { url: `${receiver.url}${path}`, events: ['deployment.finished'] });
          // Queued through the misconfigured replica, which polls as often as the others.
          for (let i = 0; i < 5; i++) assert.equal((await call(wrong, s.admin, 'POST', `/webhooks/${h.id}/test`)).status, 202);
          await waitFor('five pings', () => receiver.on(path).length >= 5, 20_000);
          await sleep(500);
          assert.equal(receiver.on(path).length, 5);
          for (const r of receiver.on(path)) verify(r, h.secret);
          const rows = await server.context.db
            .selectFrom('webhook_deliveries')
            .select(['status', 'attempts', 'error'])
            .where('webhook_id', '=', h.id)
            .execute();
          assert.deepEqual(
            rows.map((r) => [r.status, r.attempts, r.error]),
            rows.map(() => ['delivered', 1, null]),
          );
        } finally {
          await otherKey.remove();
        }
      },
    );

    test(
      'two replicas on one database: each event reaches the receiver once',
      { skip: backend === 'sqlite' ? 'one SQLite server at a time' : false },
      async () => {
        const second = await place.start();
        const s = await space(server);
        const path = `/replicas-${s.name}`;
        const h = await hook(server, s, { url: `${receiver.url}${path}`, events: ['deployment.started', 'deployment.finished', 'activation.finished'] });
        // Agents on both replicas, deployments through both.
        const one = await AgentSocket.register(wsUrl(server), s.agentToken, 'r-1');
        const two = await AgentSocket.register(wsUrl(second), s.agentToken, 'r-2');
        sockets.push(one.socket, two.socket);
        const ids = [
          await deployOnce(server, s, one.socket, 'r-1', storePath('rep-a'), 'Succeeded'),
          await deployOnce(second, s, two.socket, 'r-2', storePath('rep-b'), 'Succeeded'),
          await deployOnce(second, s, one.socket, 'r-1', storePath('rep-c'), 'Succeeded'),
        ];
        await waitFor('nine deliveries', () => receiver.on(path).length >= 9, 20_000);
        await sleep(1000);
        const bodies = receiver.on(path).map((r) => JSON.parse(r.body) as Body);
        assert.equal(bodies.length, 9, bodies.map((b) => b.event).join(','));
        const keys = bodies.map((b) => `${b.event}:${b.deployment?.id ?? JSON.stringify(b.activation)}`);
        assert.equal(new Set(bodies.map((b) => b.id)).size, 9, 'nine distinct deliveries');
        for (const id of ids) {
          assert.equal(keys.filter((k) => k === `deployment.started:${id}`).length, 1);
          assert.equal(keys.filter((k) => k === `deployment.finished:${id}`).length, 1);
        }
        for (const r of receiver.on(path)) verify(r, h.secret);
        const rows = await server.context.db.selectFrom('webhook_deliveries').select(['status', 'attempts']).where('webhook_id', '=', h.id).execute();
        assert.deepEqual(
          rows.map((r) => [r.status, r.attempts]),
          rows.map(() => ['delivered', 1]),
        );
      },
    );
  });
}
