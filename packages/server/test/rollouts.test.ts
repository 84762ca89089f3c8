/**
 * Staged rollouts over SQLite and PostgreSQL, with fake agents: waves by
 * names, selector and percent; maxParallel; a failure over budget stops the
 * rollout and holds the rest; onFailure rollback; pause, resume and abort;
 * `on`, unchanged and force; a rollout survives a server restart, and on
 * PostgreSQL a second replica continues it after the first stops.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import type { DeploymentStatus, StorePath } from '@drover/protocol';
import { dropSchema, findPostgres, randomSchema, tempDir, type TempDir } from '@drover/test-support';
import { createToken } from '../src/auth/tokens.js';
import { storedLabels } from '../src/agents/labels.js';
import { createWorkspace } from '../src/workspaces/repository.js';
import { startServer, type RunningServer } from '../src/server.js';
import { assertError, unique } from './api-suite.js';
import { AgentSocket } from './fake-agent.js';
import { backendCases, nowIso, storePath, type ApiResponse, type BackendName } from './support.js';

/** A database that outlives the servers started on it (a restart, a second replica). */
class Place {
  private dir: TempDir | undefined;
  private url: string | undefined;
  private schema: string | undefined;
  readonly servers: RunningServer[] = [];

  constructor(readonly backend: BackendName) {}

  async start(): Promise<RunningServer> {
    if (this.backend === 'sqlite') this.dir ??= await tempDir('drover-rollout-test-');
    else {
      const target = await findPostgres();
      this.url = target.url;
      this.schema ??= randomSchema('drover_rollout_');
    }
    const server = await startServer({
      listen: '127.0.0.1:0',
      dataDir: this.dir?.path ?? join(tmpdir(), 'drover-rollout-unused'),
      databaseUrl: this.url,
      databaseSchema: this.schema,
      logger: pino({ level: 'silent' }),
      rolloutSweepMs: 200,
    });
    this.servers.push(server);
    return server;
  }

  async remove(): Promise<void> {
    for (const s of this.servers) await s.close();
    await this.dir?.remove();
    if (this.url && this.schema) await dropSchema(this.url, this.schema);
  }
}

async function call(server: RunningServer, token: string, method: 'GET' | 'POST', url: string, body?: unknown): Promise<ApiResponse> {
  const res = await server.app.inject({
    method,
    url: `/api/v1${url}`,
    headers: { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });
  return { status: res.statusCode, headers: res.headers, json: res.body ? JSON.parse(res.body) : undefined, text: res.body };
}

/** A workspace with agents (fake sockets) named PREFIX-01…, an activate token, and the server they talk to. */
interface Fleet {
  readonly server: RunningServer;
  readonly token: string;
  readonly agentToken: string;
  readonly workspaceId: string;
  readonly names: string[];
  readonly sockets: Map<string, AgentSocket>;
}

async function fleet(server: RunningServer, count: number, labels: (i: number) => Record<string, string> = () => ({})): Promise<Fleet> {
  const db = server.context.db;
  const ws = await createWorkspace(db, unique('roll'));
  const token = (await createToken(db, { workspaceId: ws.id, kind: 'activate' })).token;
  const agentToken = (await createToken(db, { workspaceId: ws.id, kind: 'agent', unbound: 'any' })).token;
  const names = Array.from({ length: count }, (_, i) => `n-${String(i + 1).padStart(2, '0')}`);
  const sockets = new Map<string, AgentSocket>();
  const wsUrl = server.url.replace(/^http/, 'ws') + '/api/v1/agent/ws';
  for (const [i, name] of names.entries()) {
    const { socket } = await AgentSocket.register(wsUrl, agentToken, name);
    sockets.set(name, socket);
    await db
      .updateTable('agents')
      .set({ labels: storedLabels(labels(i)) })
      .where('workspace_id', '=', ws.id)
      .where('name', '=', name)
      .execute();
  }
  return { server, token, agentToken, workspaceId: ws.id, names, sockets };
}

function spec(f: Fleet, path: StorePath, rollout?: unknown): Record<string, unknown> {
  return { agents: Object.fromEntries(f.names.map((n) => [n, path])), ...(rollout === undefined ? {} : { rollout }) };
}

async function activate(f: Fleet, body: unknown, query = ''): Promise<ApiResponse> {
  return call(f.server, f.token, 'POST', `/activate?cacheCheck=false${query}`, body);
}

/** What the agent reports: started, then the outcome (Succeeded puts `path` in place). */
function report(f: Fleet, agent: string, id: string, status: 'Succeeded' | 'Failed', path: StorePath | null): void {
  const socket = f.sockets.get(agent)!;
  socket.send({ type: 'deployment.started', id, time: nowIso() });
  socket.send({ type: 'deployment.finished', id, time: nowIso(), status, reason: status === 'Failed' ? 'exit 1' : null, activePath: path });
}

/** The agent's next deploy frame, reported with `status`. */
async function deployAndReport(f: Fleet, agent: string, status: 'Succeeded' | 'Failed', path: StorePath | null = null): Promise<string> {
  const frame = await f.sockets.get(agent)!.next('deploy');
  report(f, agent, frame.deployment.id, status, status === 'Succeeded' ? (path ?? (frame.deployment.storePath as StorePath)) : null);
  return frame.deployment.id;
}

interface View {
  deployments: { agent: string; status: DeploymentStatus; wave: number | null; storePath: string; reason: string | null }[];
  activation: {
    unchanged: string[];
    counts: Record<DeploymentStatus, number>;
    selector: string | null;
    url: string;
    rollout: null | {
      state: string;
      currentWave: number;
      failures: number;
      reason: string | null;
      rollbackActivationId: string | null;
      pauseUntil: string | null;
      waves: { index: number; label: string; agents: number; state: string; counts: Record<DeploymentStatus, number> }[];
    };
  };
}

async function view(f: Fleet, id: string, server = f.server): Promise<View> {
  const res = await call(server, f.token, 'GET', `/activations/${id}`);
  assert.equal(res.status, 200, res.text);
  return res.json as View;
}

/** Polls the activation view until `ok` holds (10 s at most, then fails with the last view). */
async function until(f: Fleet, id: string, what: string, ok: (v: View) => boolean, server = f.server): Promise<View> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await view(f, id, server);
    if (ok(v)) return v;
    if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(v.activation.rollout ?? v.activation)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const statusOf = (v: View) => Object.fromEntries(v.deployments.map((d) => [d.agent, d.status]));

for (const { backend, skip } of await backendCases()) {
  describe(`staged rollouts over ${backend}`, { skip }, () => {
    const place = new Place(backend);
    let server: RunningServer;
    before(async () => {
      server = await place.start();
    });
    after(() => place.remove());

    test('waves by names, selector and percent: each wave starts when the one before succeeded; Queued is never delivered', async () => {
      const f = await fleet(server, 5, (i): Record<string, string> => (i === 1 || i === 3 ? { role: 'web' } : {}));
      const path = storePath('waves');
      const res = await activate(f, spec(f, path, { waves: [{ agents: ['n-05'] }, { selector: 'role=web' }, { percent: 100 }] }));
      assert.equal(res.status, 201, res.text);
      const waveOf = Object.fromEntries(Object.entries(res.json.agents as Record<string, { wave: number }>).map(([n, a]) => [n, a.wave]));
      assert.deepEqual(waveOf, { 'n-05': 0, 'n-02': 1, 'n-04': 1, 'n-01': 2, 'n-03': 2 });
      assert.match(res.json.url, new RegExp(`/w/[^/]+/activations/${res.json.activationId}$`));
      const id = res.json.activationId as string;
      let v = await view(f, id);
      assert.deepEqual(statusOf(v), { 'n-01': 'Queued', 'n-02': 'Queued', 'n-03': 'Queued', 'n-04': 'Queued', 'n-05': 'Pending' });
      assert.deepEqual(
        v.activation.rollout?.waves.map((w) => [w.label, w.agents, w.state]),
        [
          ['n-05', 1, 'running'],
          ['role=web', 2, 'waiting'],
          ['100%', 2, 'waiting'],
        ],
      );
      await deployAndReport(f, 'n-05', 'Succeeded');
      await until(f, id, 'wave 2 released', (x) => x.activation.rollout?.currentWave === 1);
      assert.deepEqual(f.sockets.get('n-01')!.pending(), [], 'a Queued deployment reached no agent');
      await deployAndReport(f, 'n-02', 'Succeeded');
      v = await view(f, id);
      assert.equal(v.activation.rollout?.currentWave, 1, 'wave 2 is not done while n-04 runs');
      await deployAndReport(f, 'n-04', 'Succeeded');
      await deployAndReport(f, 'n-01', 'Succeeded');
      await deployAndReport(f, 'n-03', 'Succeeded');
      v = await until(f, id, 'completed', (x) => x.activation.rollout?.state === 'completed');
      assert.deepEqual(
        v.activation.rollout?.waves.map((w) => w.state),
        ['succeeded', 'succeeded', 'succeeded'],
      );
      assert.equal(v.activation.counts.Succeeded, 5);
    });

    test('cumulative percent and count split the agents in name order; agents in no wave are refused with nothing created', async () => {
      const f = await fleet(server, 10);
      const res = await activate(f, spec(f, storePath('split'), { waves: [{ count: 1 }, { percent: 50 }, { percent: 100 }] }));
      assert.equal(res.status, 201, res.text);
      const v = await view(f, res.json.activationId);
      assert.deepEqual(
        v.activation.rollout?.waves.map((w) => w.agents),
        [1, 4, 5],
      );
      assert.deepEqual(
        v.deployments.filter((d) => d.wave === 1).map((d) => d.agent),
        ['n-02', 'n-03', 'n-04', 'n-05'],
      );
      const refused = await activate(f, spec(f, storePath('left'), { waves: [{ percent: 30 }] }));
      assertError(refused, 'DROVER_ERR_INVALID_DEPLOY_SPEC', /7 agents are in no wave/);
      assert.equal(refused.json.details[0].path, '/rollout/waves');
      const bad = await activate(f, spec(f, storePath('bad'), { waves: [{ percent: 0 }, { selector: 'a=' }], maxFailures: 'x', onFailure: 'retry' }));
      assertError(bad, 'DROVER_ERR_INVALID_DEPLOY_SPEC');
      assert.deepEqual(
        bad.json.details.map((d: { path: string }) => d.path),
        ['/rollout/waves/0/percent', '/rollout/waves/1/selector', '/rollout/maxFailures', '/rollout/onFailure'],
      );
    });

    test('maxParallel: at most N of a wave run at once; a finished one frees a slot', async () => {
      const f = await fleet(server, 4);
      const res = await activate(f, spec(f, storePath('parallel'), { waves: [{ percent: 100 }], maxParallel: 2 }));
      const id = res.json.activationId as string;
      let v = await view(f, id);
      assert.deepEqual(statusOf(v), { 'n-01': 'Pending', 'n-02': 'Pending', 'n-03': 'Queued', 'n-04': 'Queued' });
      await deployAndReport(f, 'n-01', 'Succeeded');
      v = await until(f, id, 'n-03 released', (x) => statusOf(x)['n-03'] === 'Pending');
      assert.equal(statusOf(v)['n-04'], 'Queued');
    });

    test('over the failure budget the rollout stops: later waves are Held, never delivered', async () => {
      const f = await fleet(server, 4);
      const res = await activate(f, spec(f, storePath('budget'), { waves: [{ count: 2 }, { percent: 100 }], maxFailures: 0 }));
      const id = res.json.activationId as string;
      await deployAndReport(f, 'n-01', 'Failed');
      const v = await until(f, id, 'stopped', (x) => x.activation.rollout?.state === 'stopped');
      assert.deepEqual(statusOf(v), { 'n-01': 'Failed', 'n-02': 'Pending', 'n-03': 'Held', 'n-04': 'Held' });
      assert.match(v.activation.rollout?.reason ?? '', /1 deployment failed, more than maxFailures allows \(0\)/);
      assert.deepEqual(
        v.activation.rollout?.waves.map((w) => w.state),
        ['running', 'held'],
      );
      assert.match(v.deployments.find((d) => d.agent === 'n-03')?.reason ?? '', /held: the rollout stopped/);
      assert.deepEqual(f.sockets.get('n-03')!.pending(), []);
      // A percentage budget: 50% of 4 tolerates two failures.
      const g = await fleet(server, 4);
      const tolerant = await activate(g, spec(g, storePath('tolerant'), { waves: [{ count: 2 }, { percent: 100 }], maxFailures: '50%' }));
      await deployAndReport(g, 'n-01', 'Failed');
      await deployAndReport(g, 'n-02', 'Succeeded');
      await until(g, tolerant.json.activationId, 'wave 2 runs despite one failure', (x) => x.activation.rollout?.currentWave === 1);
    });

    test('onFailure rollback: the agents that succeeded get their previous path again, as a new activation', async () => {
      const f = await fleet(server, 2);
      const old = storePath('old');
      const first = await activate(f, spec(f, old));
      for (const n of f.names) await deployAndReport(f, n, 'Succeeded');
      await until(f, first.json.activationId, 'old path everywhere', (x) => x.activation.counts.Succeeded === 2);
      const res = await activate(f, spec(f, storePath('new'), { waves: [{ count: 1 }, { percent: 100 }], onFailure: 'rollback' }));
      const id = res.json.activationId as string;
      await deployAndReport(f, 'n-01', 'Succeeded');
      await deployAndReport(f, 'n-02', 'Failed');
      const v = await until(f, id, 'rolled back', (x) => x.activation.rollout?.rollbackActivationId != null);
      assert.equal(v.activation.rollout?.state, 'stopped');
      const back = await f.sockets.get('n-01')!.next('deploy');
      assert.equal(back.deployment.storePath, old);
      const rollback = await view(f, v.activation.rollout!.rollbackActivationId!);
      assert.deepEqual(
        rollback.deployments.map((d) => [d.agent, d.storePath]),
        [['n-01', old]],
      );
    });

    test('pause holds back the next wave, resume releases it, abort holds the rest; wrong states are refused', async () => {
      const f = await fleet(server, 3);
      const res = await activate(f, spec(f, storePath('pause'), { waves: [{ count: 1 }, { count: 2 }, { percent: 100 }] }));
      const id = res.json.activationId as string;
      const paused = await call(server, f.token, 'POST', `/activations/${id}/pause`);
      assert.equal(paused.status, 200, paused.text);
      assert.equal(paused.json.activation.rollout.state, 'paused');
      assertError(await call(server, f.token, 'POST', `/activations/${id}/pause`), 'DROVER_ERR_ROLLOUT_STATE', /is paused/);
      await deployAndReport(f, 'n-01', 'Succeeded');
      // The sweep and the event both ran by the time n-01's outcome is visible twice; the wave stays held back.
      await until(f, id, 'n-01 succeeded', (x) => statusOf(x)['n-01'] === 'Succeeded');
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(statusOf(await view(f, id))['n-02'], 'Queued', 'paused: nothing released');
      const resumed = await call(server, f.token, 'POST', `/activations/${id}/resume`);
      assert.equal(resumed.json.activation.rollout.state, 'running');
      assert.equal(statusOf(resumed.json)['n-02'], 'Pending');
      const aborted = await call(server, f.token, 'POST', `/activations/${id}/abort`);
      assert.equal(aborted.json.activation.rollout.state, 'aborted');
      assert.deepEqual(statusOf(aborted.json), { 'n-01': 'Succeeded', 'n-02': 'Pending', 'n-03': 'Held' });
      assertError(await call(server, f.token, 'POST', `/activations/${id}/resume`), 'DROVER_ERR_ROLLOUT_STATE');
      const plain = await activate(f, spec(f, storePath('plain')));
      assertError(await call(server, f.token, 'POST', `/activations/${plain.json.activationId}/pause`), 'DROVER_ERR_NOT_A_ROLLOUT');
      assert.equal((await view(f, plain.json.activationId)).activation.rollout, null);
    });

    test('a pause between waves: the wave waits in "pausing", then the next starts by itself', async () => {
      const f = await fleet(server, 2);
      const res = await activate(f, spec(f, storePath('between'), { waves: [{ count: 1 }, { percent: 100 }], pause: '1s' }));
      const id = res.json.activationId as string;
      await deployAndReport(f, 'n-01', 'Succeeded');
      const v = await until(f, id, 'pausing', (x) => x.activation.rollout?.waves[0]?.state === 'pausing');
      assert.ok(v.activation.rollout?.pauseUntil);
      assert.equal(statusOf(v)['n-02'], 'Queued');
      await until(f, id, 'wave 2 after the pause', (x) => statusOf(x)['n-02'] === 'Pending');
    });

    test('on=SELECTOR narrows the spec; agents already on the path are unchanged unless force', async () => {
      const f = await fleet(server, 3, (i) => (i < 2 ? { role: 'web' } : { role: 'db' }));
      const path = storePath('same');
      const first = await activate(f, spec(f, path), '&on=role%3Dweb');
      assert.deepEqual(Object.keys(first.json.agents).sort(), ['n-01', 'n-02']);
      assert.equal((await view(f, first.json.activationId)).activation.selector, 'role=web');
      await deployAndReport(f, 'n-01', 'Succeeded');
      await deployAndReport(f, 'n-02', 'Succeeded');
      await until(f, first.json.activationId, 'both on the path', (x) => x.activation.counts.Succeeded === 2);
      const again = await activate(f, spec(f, path));
      assert.deepEqual(again.json.unchanged, ['n-01', 'n-02']);
      assert.deepEqual(Object.keys(again.json.agents), ['n-03']);
      assert.deepEqual((await view(f, again.json.activationId)).activation.unchanged, ['n-01', 'n-02']);
      const forced = await activate(f, spec(f, path), '&force=true');
      assert.deepEqual(forced.json.unchanged, []);
      assert.equal(Object.keys(forced.json.agents).length, 3);
      assertError(await activate(f, spec(f, path), '&on=role%3Dnone'), 'DROVER_ERR_INVALID_DEPLOY_SPEC', /no agent of the spec matches/);
      assertError(await activate(f, spec(f, path), '&on=%3D%3D'), 'DROVER_ERR_INVALID_SELECTOR');
    });

    test('a paused rollout survives a server restart and continues when resumed on the new server', async () => {
      const f = await fleet(server, 2);
      const res = await activate(f, spec(f, storePath('restart'), { waves: [{ count: 1 }, { percent: 100 }] }));
      const id = res.json.activationId as string;
      await call(server, f.token, 'POST', `/activations/${id}/pause`);
      await deployAndReport(f, 'n-01', 'Succeeded');
      await until(f, id, 'n-01 succeeded', (x) => statusOf(x)['n-01'] === 'Succeeded');
      for (const s of f.sockets.values()) s.close();
      await server.close();
      server = await place.start();
      const wsUrl = server.url.replace(/^http/, 'ws') + '/api/v1/agent/ws';
      const again = { ...f, server, sockets: new Map<string, AgentSocket>() };
      for (const n of f.names) again.sockets.set(n, (await AgentSocket.register(wsUrl, f.agentToken, n)).socket);
      assert.equal((await view(again, id)).activation.rollout?.state, 'paused');
      const resumed = await call(server, f.token, 'POST', `/activations/${id}/resume`);
      assert.equal(resumed.status, 200, resumed.text);
      await deployAndReport(again, 'n-02', 'Succeeded');
      await until(again, id, 'completed after the restart', (x) => x.activation.rollout?.state === 'completed');
      for (const s of again.sockets.values()) s.close();
    });

    test('a second replica continues a rollout after the first stopped', { skip: backend === 'sqlite' ? 'one SQLite server at a time' : false }, async () => {
      const other = await place.start();
      const f = await fleet(server, 2);
      // The agents are connected to `other`; the activation goes through `server`, which then stops.
      const wsUrl = other.url.replace(/^http/, 'ws') + '/api/v1/agent/ws';
      for (const s of f.sockets.values()) s.close();
      const onOther = { ...f, server: other, sockets: new Map<string, AgentSocket>() };
      for (const n of f.names) onOther.sockets.set(n, (await AgentSocket.register(wsUrl, f.agentToken, n)).socket);
      const res = await activate(f, spec(f, storePath('replica'), { waves: [{ count: 1 }, { percent: 100 }] }));
      assert.equal(res.status, 201, res.text);
      await server.close();
      await deployAndReport(onOther, 'n-01', 'Succeeded');
      await deployAndReport(onOther, 'n-02', 'Succeeded');
      await until(onOther, res.json.activationId, 'completed on the other replica', (x) => x.activation.rollout?.state === 'completed', other);
      for (const s of onOther.sockets.values()) s.close();
      server = other;
    });
  });
}
