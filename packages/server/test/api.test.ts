/**
 * The HTTP API and the agent websocket of a real server (`startServer` on
 * 127.0.0.1:0), run once over SQLite and once over PostgreSQL (a fresh
 * schema, dropped afterwards; a second schema in the same database must
 * migrate too): health, authentication errors and token kinds, request
 * validation, atomic activation, 404s, OpenAPI, token administration and
 * last-use times, workspace isolation; then a fake agent over a real
 * websocket — registration and presence, deploy frames with indexes and
 * supersession, started/log/finished with ack and the stored log, cancel,
 * deploying to a declared agent before it connects, bad frames (4400), a
 * token bound to another agent (4403), protocol mismatch (4426), refused
 * upgrades (HTTP 401/403), replacement (4409) and revocation (4401). Last,
 * in a child process, that a hostile frame cannot crash the server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { ERRORS, parseToken, type ErrorCode } from '@drover/protocol';
import { createWorkspace } from '../src/workspaces/repository.js';
import { revokeToken } from '../src/auth/tokens.js';
import {
  AgentSocket,
  api,
  BACKENDS,
  eventually,
  hello,
  nowIso,
  refusedUpgrade,
  startTestServer,
  storePath,
  type ApiResponse,
  type TestServer,
  parseEventStream,
} from './support.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Asserts an error response: status from the table, body exactly {code, message, hint[, details]}. */
function assertError(res: ApiResponse, code: ErrorCode, message?: RegExp): void {
  assert.equal(res.status, ERRORS[code].status, `status of ${res.text}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(res.json?.code, code, res.text);
  assert.equal(res.json.hint, ERRORS[code].hint);
  assert.equal(typeof res.json.message, 'string');
  assert.ok(res.json.message.length > 0);
  for (const key of Object.keys(res.json)) assert.ok(['code', 'message', 'hint', 'details'].includes(key), `unexpected key ${key}`);
  if (message) assert.match(res.json.message, message);
}

function unique(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

for (const backend of BACKENDS) {
  describe(`API over ${backend}`, () => {
    let t: TestServer;
    let admin: string;
    let activate: string;
    const sockets: AgentSocket[] = [];

    async function register(token: string, agent: string) {
      const r = await AgentSocket.register(t.wsUrl, token, agent);
      sockets.push(r.socket);
      return r;
    }

    before(async () => {
      t = await startTestServer(backend);
      admin = (await t.mint('admin')).token;
      activate = (await t.mint('activate')).token;
    });

    after(async () => {
      for (const s of sockets) s.close();
      await t?.close();
    });

    test('a second Drover schema in the same database migrates and starts', { skip: backend !== 'postgres' && 'PostgreSQL only' }, async () => {
      // This server's schema already holds Kysely's bookkeeping tables; another installation must not be confused by them.
      const second = await startTestServer(backend, { schemaPrefix: 'drover_api_second_' });
      try {
        assert.equal((await api(second, 'GET', '/api/v1/health')).status, 200);
        const token = await second.mint('activate');
        assert.equal((await api(second, 'GET', '/api/v1/deployments', { token: token.token })).status, 200);
        assertError(await api(t, 'GET', '/api/v1/deployments', { token: token.token }), 'DROVER_ERR_UNAUTHORIZED');
      } finally {
        await second.close();
      }
    });

    test('a token revoked behind the bus (directly in the database) still closes its sockets within a ping round', async () => {
      const quick = await startTestServer(backend, { pingIntervalMs: 1000 });
      try {
        const minted = await quick.mint('agent');
        const { socket } = await AgentSocket.register(quick.wsUrl, minted.token, 'revoked-behind-the-bus');
        assert.equal(await revokeToken(quick.db, null, minted.id), true);
        const closed = await socket.closedWithin();
        assert.equal(closed.code, 4401);
        assert.match(closed.reason, /revoked/);
      } finally {
        await quick.close();
      }
    });

    test('health, through inject and through the listening socket', async () => {
      const res = await api(t, 'GET', '/api/v1/health');
      assert.equal(res.status, 200);
      assert.equal(res.json.status, 'ok');
      assert.equal(res.json.database, backend);
      assert.equal(typeof res.json.agentsConnected, 'number');
      const real = await fetch(`${t.url}/api/v1/health`);
      assert.equal(real.status, 200);
      assert.deepEqual(await real.json(), res.json);
    });

    describe('authentication', () => {
      test('no token → 401 DROVER_ERR_UNAUTHORIZED', async () => {
        assertError(await api(t, 'GET', '/api/v1/agents'), 'DROVER_ERR_UNAUTHORIZED', /no token/);
        assertError(await api(t, 'GET', '/api/v1/agents', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }), 'DROVER_ERR_UNAUTHORIZED', /no token/);
        const real = await fetch(`${t.url}/api/v1/deployments`);
        assert.equal(real.status, 401);
        assert.equal(((await real.json()) as { code: string }).code, 'DROVER_ERR_UNAUTHORIZED');
      });

      test('malformed token → 401 DROVER_ERR_UNAUTHORIZED', async () => {
        assertError(await api(t, 'GET', '/api/v1/agents', { token: 'hunter2' }), 'DROVER_ERR_UNAUTHORIZED', /malformed/);
        assertError(await api(t, 'GET', '/api/v1/agents', { token: admin.toUpperCase() }), 'DROVER_ERR_UNAUTHORIZED', /malformed/);
      });

      test('unknown token, wrong secret, wrong kind → 401 DROVER_ERR_UNAUTHORIZED', async () => {
        const stranger = `drover_admin_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('hex')}`;
        assertError(await api(t, 'GET', '/api/v1/agents', { token: stranger }), 'DROVER_ERR_UNAUTHORIZED', /not known/);
        const parts = parseToken(admin)!;
        const wrongSecret = `drover_admin_${parts.id}_${randomBytes(32).toString('hex')}`;
        assertError(await api(t, 'GET', '/api/v1/agents', { token: wrongSecret }), 'DROVER_ERR_UNAUTHORIZED', /not known/);
        const wrongKind = `drover_activate_${parts.id}_${parts.secret}`;
        assertError(await api(t, 'GET', '/api/v1/agents', { token: wrongKind }), 'DROVER_ERR_UNAUTHORIZED', /not known/);
        const real = await fetch(`${t.url}/api/v1/agents`, { headers: { authorization: `Bearer ${stranger}` } });
        assert.equal(real.status, 401);
      });

      test('revoked token → 401 DROVER_ERR_TOKEN_REVOKED', async () => {
        const minted = await t.mint('activate');
        assert.equal((await api(t, 'GET', '/api/v1/agents', { token: minted.token })).status, 200);
        assert.equal((await api(t, 'DELETE', `/api/v1/tokens/${minted.id}`, { token: admin })).status, 204);
        assertError(await api(t, 'GET', '/api/v1/agents', { token: minted.token }), 'DROVER_ERR_TOKEN_REVOKED', new RegExp(`token ${minted.id} was revoked`));
      });

      test('an agent token cannot activate → 403 DROVER_ERR_FORBIDDEN', async () => {
        const agent = await t.mint('agent');
        const res = await api(t, 'POST', '/api/v1/activate', { token: agent.token, body: { agents: { x: storePath('x') } } });
        assertError(res, 'DROVER_ERR_FORBIDDEN', /agent token cannot do this; it needs a token of kind activate or admin/);
        assertError(await api(t, 'GET', '/api/v1/deployments', { token: agent.token }), 'DROVER_ERR_FORBIDDEN');
      });

      test('an activate token cannot manage tokens → 403 DROVER_ERR_FORBIDDEN', async () => {
        assertError(await api(t, 'GET', '/api/v1/tokens', { token: activate }), 'DROVER_ERR_FORBIDDEN', /kind admin/);
        assertError(await api(t, 'POST', '/api/v1/tokens', { token: activate, body: { kind: 'admin' } }), 'DROVER_ERR_FORBIDDEN');
      });
    });

    describe('requests', () => {
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
        assert.deepEqual(res.json.details.map((d: { path: string }) => d.path), ['']);
      });

      test('unknown route → 404 DROVER_ERR_ROUTE_NOT_FOUND', async () => {
        assertError(await api(t, 'GET', '/api/v1/nope', { token: admin }), 'DROVER_ERR_ROUTE_NOT_FOUND', /no route GET \/api\/v1\/nope/);
        assertError(await api(t, 'GET', '/no-such-page'), 'DROVER_ERR_ROUTE_NOT_FOUND');
        assertError(await api(t, 'DELETE', '/api/v1/health'), 'DROVER_ERR_ROUTE_NOT_FOUND', /no route DELETE/);
        const real = await fetch(`${t.url}/api/v2/activate?x=1`, { method: 'POST' });
        assert.equal(real.status, 404);
        const body = (await real.json()) as { code: string; message: string };
        assert.equal(body.code, 'DROVER_ERR_ROUTE_NOT_FOUND');
        assert.equal(body.message, 'no route POST /api/v2/activate', 'the query string is not echoed');
      });

      test('deployment not found → 404 DROVER_ERR_DEPLOYMENT_NOT_FOUND', async () => {
        const id = randomUUID();
        assertError(await api(t, 'GET', `/api/v1/deployments/${id}`, { token: activate }), 'DROVER_ERR_DEPLOYMENT_NOT_FOUND', new RegExp(id));
        assertError(await api(t, 'GET', '/api/v1/deployments/not-a-uuid', { token: activate }), 'DROVER_ERR_DEPLOYMENT_NOT_FOUND');
        assertError(await api(t, 'GET', `/api/v1/deployments/${id}/log`, { token: activate }), 'DROVER_ERR_DEPLOYMENT_NOT_FOUND');
        assertError(await api(t, 'POST', `/api/v1/deployments/${id}/cancel`, { token: activate }), 'DROVER_ERR_DEPLOYMENT_NOT_FOUND');
        assertError(await api(t, 'GET', `/api/v1/activations/${id}`, { token: activate }), 'DROVER_ERR_DEPLOYMENT_NOT_FOUND');
      });

      test('agent not found → 404 DROVER_ERR_AGENT_NOT_FOUND', async () => {
        assertError(await api(t, 'GET', '/api/v1/agents/never-seen', { token: activate }), 'DROVER_ERR_AGENT_NOT_FOUND', /never-seen/);
      });

      test('/api/v1/openapi.json describes the API', async () => {
        const res = await api(t, 'GET', '/api/v1/openapi.json');
        assert.equal(res.status, 200);
        const doc = res.json;
        assert.match(doc.openapi, /^3\.\d+\.\d+$/);
        assert.equal(doc.info.title, 'Drover API');
        assert.ok(doc.paths['/api/v1/activate']?.post, 'POST /api/v1/activate documented');
        assert.ok(doc.paths['/api/v1/activate'].post.responses['201'], 'with its 201 response');
        assert.ok(doc.paths['/api/v1/deployments/{id}']?.get);
        assert.ok(doc.paths['/api/v1/tokens']?.post);
        assert.ok(doc.paths['/api/v1/tokens/{id}']?.delete);
        assert.equal(doc.paths['/api/v1/agent/ws'], undefined, 'the websocket route is hidden');
        assert.equal(doc.paths['/api/v1/openapi.json'], undefined);
        assert.deepEqual(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' });
      });
    });

    describe('tokens', () => {
      test('create, list (never the secret or its hash), revoke', async () => {
        const created = await api(t, 'POST', '/api/v1/tokens', { token: admin, body: { kind: 'agent', agent: 'tok-agent', description: 'for tok-agent' } });
        assert.equal(created.status, 201, created.text);
        const parsed = parseToken(created.json.token);
        assert.ok(parsed, 'a well-formed token');
        assert.equal(parsed.kind, 'agent');
        assert.deepEqual(
          { ...created.json.info, createdAt: undefined },
          { id: parsed.id, kind: 'agent', workspace: 'default', agent: 'tok-agent', description: 'for tok-agent', createdAt: undefined, lastUsedAt: null, revokedAt: null },
        );

        const list = await api(t, 'GET', '/api/v1/tokens', { token: admin });
        assert.equal(list.status, 200);
        const mine = list.json.tokens.find((x: { id: string }) => x.id === parsed.id);
        assert.deepEqual(mine, created.json.info);
        const hash = createHash('sha256').update(parsed.secret).digest('hex');
        assert.ok(!list.text.includes(parsed.secret), 'the secret is never listed');
        assert.ok(!list.text.includes(hash), 'nor its hash');
        assert.ok(!list.text.includes(created.json.token));
        for (const entry of list.json.tokens) {
          assert.deepEqual(Object.keys(entry).sort(), ['agent', 'createdAt', 'description', 'id', 'kind', 'lastUsedAt', 'revokedAt', 'workspace']);
        }

        const revoked = await api(t, 'DELETE', `/api/v1/tokens/${parsed.id}`, { token: admin });
        assert.equal(revoked.status, 204);
        assert.equal(revoked.text, '');
        const after = await api(t, 'GET', '/api/v1/tokens', { token: admin });
        const entry = after.json.tokens.find((x: { id: string }) => x.id === parsed.id);
        assert.equal(typeof entry.revokedAt, 'string');
        assert.equal((await api(t, 'DELETE', `/api/v1/tokens/${parsed.id}`, { token: admin })).status, 204, 'revoking again is harmless');
      });

      test('using a token records when it was last used', async () => {
        const minted = await t.mint('activate', { description: 'usage' });
        const find = async () =>
          (await api(t, 'GET', '/api/v1/tokens', { token: admin })).json.tokens.find((x: { id: string }) => x.id === minted.id);
        assert.equal((await find()).lastUsedAt, null);
        assert.equal((await api(t, 'GET', '/api/v1/agents', { token: minted.token })).status, 200);
        await t.server.context.tokenUsage.flush();
        const used = (await find()).lastUsedAt;
        assert.equal(typeof used, 'string');
        assert.ok(Math.abs(Date.parse(used) - Date.now()) < 60_000, used);
      });

      test('revoking an unknown token → 404 DROVER_ERR_TOKEN_NOT_FOUND', async () => {
        assertError(await api(t, 'DELETE', '/api/v1/tokens/0123456789abcdef', { token: admin }), 'DROVER_ERR_TOKEN_NOT_FOUND');
      });

      test('invalid token requests → 400 DROVER_ERR_VALIDATION', async () => {
        assertError(await api(t, 'POST', '/api/v1/tokens', { token: admin, body: { kind: 'root' } }), 'DROVER_ERR_VALIDATION');
        assertError(await api(t, 'POST', '/api/v1/tokens', { token: admin, body: { kind: 'agent', secret: 'x' } }), 'DROVER_ERR_VALIDATION');
        // A bad name is reported with the naming rule and its own code, not a regex.
        assertError(
          await api(t, 'POST', '/api/v1/tokens', { token: admin, body: { kind: 'agent', agent: 'a b' } }),
          'DROVER_ERR_INVALID_AGENT_NAME',
          /^invalid body: body\/agent is not an agent name \(1-64 letters/,
        );
        assertError(
          await api(t, 'POST', '/api/v1/tokens', { token: admin, body: { kind: 'activate', agent: 'web-1' } }),
          'DROVER_ERR_VALIDATION',
          /only agent tokens can be bound/,
        );
      });

      test('the tokens of one workspace are invisible to another', async () => {
        const other = await createWorkspace(t.db, unique('other'));
        const otherAdmin = await t.mint('admin', { workspaceId: other.id });
        const otherAgent = await t.mint('agent', { workspaceId: other.id });
        const defaultToken = await t.mint('activate', { description: 'default only' });

        const theirs = await api(t, 'GET', '/api/v1/tokens', { token: otherAdmin.token });
        assert.equal(theirs.status, 200);
        assert.deepEqual(theirs.json.tokens.map((x: { id: string }) => x.id).sort(), [otherAdmin.id, otherAgent.id].sort());
        assert.ok(theirs.json.tokens.every((x: { workspace: string }) => x.workspace === other.name));

        const ours = await api(t, 'GET', '/api/v1/tokens', { token: admin });
        const ourIds = ours.json.tokens.map((x: { id: string }) => x.id);
        assert.ok(ourIds.includes(defaultToken.id));
        assert.ok(!ourIds.includes(otherAdmin.id) && !ourIds.includes(otherAgent.id));

        assertError(await api(t, 'DELETE', `/api/v1/tokens/${defaultToken.id}`, { token: otherAdmin.token }), 'DROVER_ERR_TOKEN_NOT_FOUND');
        assert.equal((await api(t, 'GET', '/api/v1/agents', { token: defaultToken.token })).status, 200, 'still valid');

        const ws = await api(t, 'GET', '/api/v1/workspace', { token: otherAdmin.token });
        assert.equal(ws.json.name, other.name);
      });
    });

    describe('activation is atomic', () => {
      test('a bad store path and an unknown agent → 400 naming each, and nothing is created', async () => {
        const ws = await createWorkspace(t.db, unique('atomic'));
        const wsActivate = (await t.mint('activate', { workspaceId: ws.id })).token;
        const { socket } = await register((await t.mint('agent', { workspaceId: ws.id })).token, 'known-1');

        const res = await api(t, 'POST', '/api/v1/activate', {
          token: wsActivate,
          body: { agents: { 'known-1': storePath('ok'), 'bad-path': '/nix/store/not-a-store-path', ghost: storePath('ghost') } },
        });
        assertError(res, 'DROVER_ERR_INVALID_DEPLOY_SPEC', /^nothing was deployed: /);
        const details = res.json.details as Array<{ path: string; code: string; message: string }>;
        assert.deepEqual(
          details.map((d) => [d.path, d.code]).sort(),
          [
            ['/agents/bad-path', 'DROVER_ERR_INVALID_STORE_PATH'],
            ['/agents/ghost', 'DROVER_ERR_UNKNOWN_AGENT'],
          ],
        );
        assert.match(details.find((d) => d.path === '/agents/ghost')!.message, /unknown agent "ghost"/);
        assert.match(details.find((d) => d.path === '/agents/bad-path')!.message, /not a store path/);

        const list = await api(t, 'GET', '/api/v1/deployments', { token: wsActivate });
        assert.equal(list.status, 200);
        assert.deepEqual(list.json.deployments, []);
        const agent = await api(t, 'GET', '/api/v1/agents/known-1', { token: wsActivate });
        assert.equal(agent.json.lastDeployment, null);
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(socket.pending().filter((m) => m.type === 'deploy'), [], 'no deploy frame');
      });

      test('only unknown agents → 400 DROVER_ERR_UNKNOWN_AGENT', async () => {
        const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [unique('ghost')]: storePath('x') } } });
        assertError(res, 'DROVER_ERR_UNKNOWN_AGENT');
        assert.equal(res.json.details.length, 1);
      });
    });

    describe('agent websocket', () => {
      let socket: AgentSocket;
      let agentId: string;
      const first = storePath('system-1');
      const second = storePath('system-2');
      const rollback = storePath('rollback');
      let firstId: string;
      let secondId: string;

      test('hello → registered, and the agent is listed online', async () => {
        const r = await register((await t.mint('agent', { agent: 'web-1' })).token, 'web-1');
        socket = r.socket;
        assert.match(r.registered.agentId, UUID_RE);
        assert.equal(r.registered.workspace, 'default');
        assert.equal(r.registered.cache, null);
        assert.equal(r.registered.pingIntervalMs, 30_000);
        agentId = r.registered.agentId;

        const list = await api(t, 'GET', '/api/v1/agents', { token: activate });
        assert.equal(list.status, 200);
        const web1 = list.json.agents.find((a: { name: string }) => a.name === 'web-1');
        assert.ok(web1, 'web-1 listed');
        assert.equal(web1.id, agentId);
        assert.equal(web1.online, true);
        assert.equal(web1.system, 'x86_64-linux');
        assert.equal(web1.hostname, 'web-1.test');
        assert.equal(web1.version, '0.0.0-test');
        assert.equal(web1.workspace, 'default');
        assert.equal(web1.lastDeployment, null);
        const one = await api(t, 'GET', '/api/v1/agents/web-1', { token: activate });
        assert.deepEqual(one.json, web1);
        const health = await api(t, 'GET', '/api/v1/health');
        assert.ok(health.json.agentsConnected >= 1);
      });

      test('activate sends a deploy frame with index 1', async () => {
        const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { 'web-1': first } } });
        assert.equal(res.status, 201, res.text);
        assert.match(res.json.activationId, UUID_RE);
        const entry = res.json.agents['web-1'];
        assert.equal(entry.index, 1);
        assert.equal(entry.storePath, first);
        assert.equal(entry.online, true);
        assert.equal(entry.url, `${t.url}/w/default/deployments/${entry.id}`);
        firstId = entry.id;

        const deploy = await socket.next('deploy');
        assert.deepEqual(deploy.deployment, { id: firstId, index: 1, storePath: first, rollbackScript: null, cache: null });

        const got = await api(t, 'GET', `/api/v1/deployments/${firstId}`, { token: activate });
        assert.equal(got.json.status, 'Pending');
        assert.equal(got.json.agent, 'web-1');
        assert.equal(got.json.activationId, res.json.activationId);
        const activation = await api(t, 'GET', `/api/v1/activations/${res.json.activationId}`, { token: activate });
        assert.deepEqual(activation.json.deployments.map((d: { id: string }) => d.id), [firstId]);
      });

      test('a second activate gives index 2 and supersedes the unstarted first', async () => {
        const res = await api(t, 'POST', '/api/v1/activate', {
          token: activate,
          body: { agents: { 'web-1': second }, rollbackScript: { 'x86_64-linux': rollback, 'aarch64-linux': storePath('other') } },
        });
        assert.equal(res.status, 201, res.text);
        secondId = res.json.agents['web-1'].id;
        assert.equal(res.json.agents['web-1'].index, 2);

        const deploy = await socket.next('deploy');
        assert.deepEqual(deploy.deployment, { id: secondId, index: 2, storePath: second, rollbackScript: rollback, cache: null });

        const old = await api(t, 'GET', `/api/v1/deployments/${firstId}`, { token: activate });
        assert.equal(old.json.status, 'Superseded');
        assert.equal(typeof old.json.finishedAt, 'string');
        const cur = await api(t, 'GET', `/api/v1/deployments/${secondId}`, { token: activate });
        assert.equal(cur.json.status, 'Pending');
        assert.equal(cur.json.index, 2);
        assert.equal(cur.json.rollbackScript, rollback);
      });

      test('starting the superseded deployment is answered with deployment.cancel', async () => {
        socket.send({ type: 'deployment.started', id: firstId, time: nowIso() });
        const cancel = await socket.next('deployment.cancel');
        assert.equal(cancel.id, firstId);
        assert.match(cancel.reason, /Superseded/);
        const old = await api(t, 'GET', `/api/v1/deployments/${firstId}`, { token: activate });
        assert.equal(old.json.status, 'Superseded', 'does not move back to InProgress');
      });

      test('started, two log lines, finished → ack, and the log is stored in order', async () => {
        const t0 = nowIso();
        socket.send({ type: 'deployment.started', id: secondId, time: t0 });
        socket.send({ type: 'deployment.closure-size', id: secondId, closureSize: 4096 });
        socket.send({ type: 'deployment.log', id: secondId, lines: [{ seq: 0, time: nowIso(), stream: 'stdout', text: 'copying path' }] });
        socket.send({ type: 'deployment.log', id: secondId, lines: [{ seq: 1, time: nowIso(), stream: 'stderr', text: 'activating ✓' }] });
        // A replay after a reconnect repeats lines: stored once.
        socket.send({ type: 'deployment.log', id: secondId, lines: [{ seq: 0, time: nowIso(), stream: 'stdout', text: 'copying path' }] });
        socket.send({ type: 'deployment.finished', id: secondId, time: nowIso(), status: 'Succeeded', reason: null, activePath: second });
        const ack = await socket.next('deployment.ack');
        assert.equal(ack.id, secondId);

        const log = await api(t, 'GET', `/api/v1/deployments/${secondId}/log`, { token: activate });
        assert.equal(log.status, 200);
        assert.deepEqual(
          log.json.lines.map((l: { seq: number; stream: string; text: string }) => [l.seq, l.stream, l.text]),
          [
            [0, 'stdout', 'copying path'],
            [1, 'stderr', 'activating ✓'],
          ],
        );
        assert.equal(log.json.deployment.status, 'Succeeded');
        assert.equal(log.json.deployment.startedAt, t0);
        assert.equal(log.json.deployment.closureSize, 4096);
        const tail = await api(t, 'GET', `/api/v1/deployments/${secondId}/log?after=0`, { token: activate });
        assert.deepEqual(tail.json.lines.map((l: { seq: number }) => l.seq), [1]);

        const agent = await api(t, 'GET', '/api/v1/agents/web-1', { token: activate });
        assert.equal(agent.json.currentStorePath, second);
        assert.equal(agent.json.lastDeployment.id, secondId);
        assert.equal(agent.json.lastDeployment.status, 'Succeeded');

        const list = await api(t, 'GET', '/api/v1/deployments?agent=web-1', { token: activate });
        assert.deepEqual(list.json.deployments.map((d: { index: number; status: string }) => [d.index, d.status]), [
          [2, 'Succeeded'],
          [1, 'Superseded'],
        ]);
        assert.deepEqual(socket.undecodable, []);
      });

      test('the log as server-sent events: stored lines, the status, then `end`, and the stream closes', async () => {
        const res = await fetch(`${t.server.url}/api/v1/deployments/${secondId}/log`, {
          headers: { authorization: `Bearer ${activate}`, accept: 'text/event-stream' },
          signal: AbortSignal.timeout(10_000),
        });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
        const events = parseEventStream(await res.text());
        assert.deepEqual(events.map((e) => e.event), ['line', 'line', 'status', 'end']);
        assert.deepEqual(events.map((e) => e.id), ['0', '1', undefined, undefined], 'lines carry their seq as the event id');
        assert.deepEqual(events.slice(0, 2).map((e) => [e.data['seq'], e.data['text'], e.data['agent']]), [
          [0, 'copying path', 'web-1'],
          [1, 'activating ✓', 'web-1'],
        ]);
        assert.equal(events[2]!.data['status'], 'Succeeded');
      });

      test('a log stream resumes after ?after=SEQ or the Last-Event-ID a reconnecting EventSource sends', async () => {
        const stream = async (query: string, headers: Record<string, string> = {}) => {
          const res = await fetch(`${t.server.url}/api/v1/deployments/${secondId}/log${query}`, {
            headers: { authorization: `Bearer ${activate}`, accept: 'text/event-stream', ...headers },
            signal: AbortSignal.timeout(10_000),
          });
          return parseEventStream(await res.text()).map((e) => (e.event === 'line' ? `line ${e.id}` : e.event));
        };
        assert.deepEqual(await stream('?after=0'), ['line 1', 'status', 'end']);
        assert.deepEqual(await stream('', { 'last-event-id': '1' }), ['status', 'end']);
        assert.deepEqual(await stream('', { 'last-event-id': 'garbage' }), ['line 0', 'line 1', 'status', 'end']);
      });

      test('a frame over the 1 MiB limit closes the socket with 1009', async () => {
        const { socket: s } = await register((await t.mint('agent')).token, unique('big-frame'));
        sockets.push(s);
        s.send({ type: 'deployment.log', id: randomUUID(), lines: [{ seq: 0, time: nowIso(), stream: 'stdout', text: 'x'.repeat(1024 * 1024 + 1) }] });
        const closed = await s.closedWithin();
        assert.equal(closed.code, 1009);
      });

      test('cancelling a Pending deployment tells the agent; cancelling again → 409 DROVER_ERR_NOT_CANCELLABLE', async () => {
        const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { 'web-1': storePath('system-3') } } });
        assert.equal(res.status, 201, res.text);
        const id = res.json.agents['web-1'].id as string;
        assert.equal((await socket.next('deploy')).deployment.index, 3);

        const cancelled = await api(t, 'POST', `/api/v1/deployments/${id}/cancel`, { token: activate });
        assert.equal(cancelled.status, 200, cancelled.text);
        assert.equal(cancelled.json.status, 'Cancelled');
        const frame = await socket.next('deployment.cancel');
        assert.equal(frame.id, id);

        assertError(await api(t, 'POST', `/api/v1/deployments/${id}/cancel`, { token: activate }), 'DROVER_ERR_NOT_CANCELLABLE', /is Cancelled/);
        assertError(await api(t, 'POST', `/api/v1/deployments/${secondId}/cancel`, { token: activate }), 'DROVER_ERR_NOT_CANCELLABLE', /is Succeeded/);
        assertError(await api(t, 'POST', `/api/v1/deployments/${id}/cancel`, { token: (await t.mint('agent')).token }), 'DROVER_ERR_FORBIDDEN');
      });

      test('an agent named by a bound token can be deployed to before it connects, and gets the deployment on hello', async () => {
        const name = unique('later');
        const token = (await t.mint('agent', { agent: name })).token;
        const path = storePath('first-boot');
        const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [name]: path } } });
        assert.equal(res.status, 201, res.text);
        assert.equal(res.json.agents[name].online, false);
        assert.equal(res.json.agents[name].lastSeenAt, null);
        const { socket: s } = await register(token, name);
        const deploy = await s.next('deploy');
        assert.deepEqual(deploy.deployment, { id: res.json.agents[name].id, index: 1, storePath: path, rollbackScript: null, cache: null });
        s.close();
      });

      test('a frame that is not JSON closes the socket with 4400', async () => {
        const s = await AgentSocket.open(t.wsUrl, (await t.mint('agent')).token);
        sockets.push(s);
        s.send('this is not json');
        const closed = await s.closedWithin();
        assert.equal(closed.code, 4400);
        assert.match(closed.reason, /not JSON/);
      });

      test('a frame of unknown type closes the socket with 4400', async () => {
        const { socket: s } = await register((await t.mint('agent')).token, unique('bad-frame'));
        s.send({ type: 'deployment.exploded', id: randomUUID() });
        const closed = await s.closedWithin();
        assert.equal(closed.code, 4400);
        assert.match(closed.reason, /unknown type "deployment.exploded"/);
      });

      test('a long unknown type is cut to a valid close reason (≤ 123 bytes)', async () => {
        const s = await AgentSocket.open(t.wsUrl, (await t.mint('agent')).token);
        sockets.push(s);
        s.send({ type: 'x'.repeat(5000) });
        const closed = await s.closedWithin();
        assert.equal(closed.code, 4400);
        assert.ok(Buffer.byteLength(closed.reason) <= 123);
        assert.match(closed.reason, /^agent frame has unknown type "x+/);
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

      test('an event before hello closes the socket with 4400', async () => {
        const s = await AgentSocket.open(t.wsUrl, (await t.mint('agent')).token);
        sockets.push(s);
        s.send({ type: 'deployment.started', id: randomUUID(), time: nowIso() });
        const closed = await s.closedWithin();
        assert.equal(closed.code, 4400);
        assert.match(closed.reason, /expected "hello" first/);
      });

      test('a token bound to agent "a" used by agent "b" closes with 4403', async () => {
        const a = unique('bound-a');
        const b = unique('bound-b');
        const s = await AgentSocket.open(t.wsUrl, (await t.mint('agent', { agent: a })).token);
        sockets.push(s);
        s.send(hello(b));
        const closed = await s.closedWithin();
        assert.equal(closed.code, 4403);
        assert.ok(closed.reason.includes(a), closed.reason);
        assertError(await api(t, 'GET', `/api/v1/agents/${b}`, { token: activate }), 'DROVER_ERR_AGENT_NOT_FOUND');
      });

      test('another protocol version closes with 4426', async () => {
        const s = await AgentSocket.open(t.wsUrl, (await t.mint('agent')).token);
        sockets.push(s);
        s.send(hello(unique('future'), { protocol: 99 }));
        const closed = await s.closedWithin();
        assert.equal(closed.code, 4426);
      });

      test('an upgrade with a bad token is refused with HTTP 401, a wrong kind with 403', async () => {
        const none = await refusedUpgrade(t.wsUrl, undefined);
        assert.equal(none.status, 401);
        assert.equal(none.body.code, 'DROVER_ERR_UNAUTHORIZED');
        const malformed = await refusedUpgrade(t.wsUrl, 'nope');
        assert.equal(malformed.status, 401);
        assert.equal(malformed.body.code, 'DROVER_ERR_UNAUTHORIZED');
        const unknown = await refusedUpgrade(t.wsUrl, `drover_agent_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('hex')}`);
        assert.equal(unknown.status, 401);
        assert.equal(unknown.body.hint, ERRORS.DROVER_ERR_UNAUTHORIZED.hint);
        const wrongKind = await refusedUpgrade(t.wsUrl, activate);
        assert.equal(wrongKind.status, 403);
        assert.equal(wrongKind.body.code, 'DROVER_ERR_FORBIDDEN');
      });

      test('a second connection of the same agent replaces the first (4409)', async () => {
        const name = unique('twice');
        const token = (await t.mint('agent', { agent: name })).token;
        const { socket: older } = await register(token, name);
        const { socket: newer, registered } = await register(token, name);
        const closed = await older.closedWithin();
        assert.equal(closed.code, 4409);
        const agent = await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate });
        assert.equal(agent.json.id, registered.agentId);
        assert.equal(agent.json.online, true, 'the replaced connection closing does not mark the agent offline');
        newer.close();
      });

      test('revoking the agent token closes its socket with 4401; it cannot reconnect', async () => {
        const name = unique('revoke-me');
        const minted = await t.mint('agent', { agent: name });
        const { socket: s } = await register(minted.token, name);
        const res = await api(t, 'DELETE', `/api/v1/tokens/${minted.id}`, { token: admin });
        assert.equal(res.status, 204);
        const closed = await s.closedWithin();
        assert.equal(closed.code, 4401);
        assert.match(closed.reason, /revoked/);
        const again = await refusedUpgrade(t.wsUrl, minted.token);
        assert.equal(again.status, 401);
        assert.equal(again.body.code, 'DROVER_ERR_TOKEN_REVOKED');
        await eventually(
          async () => (await api(t, 'GET', `/api/v1/agents/${name}`, { token: activate })).json.online === false,
          `${name} is listed offline`,
        );
      });

      test('the first agent socket stayed open through all of this', () => {
        assert.deepEqual(socket.pending(), []);
        assert.equal(socket.socket.readyState, socket.socket.OPEN);
      });

      test('GET /metrics: Prometheus text for admin tokens, counting what happened above; 403 for others', async () => {
        const res = await api(t, 'GET', '/metrics', { token: admin });
        assert.equal(res.status, 200);
        assert.match(String(res.headers['content-type']), /^text\/plain/);
        assert.match(res.text, /^drover_agents_connected [1-9]\d*$/m);
        assert.match(res.text, /^drover_agent_frames_total\{type="hello"\} [1-9]\d*$/m);
        assert.match(res.text, /^drover_agent_bad_frames_total [1-9]\d*$/m);
        assert.match(res.text, /^drover_deployments_finished_total\{status="Succeeded"\} [1-9]\d*$/m);
        assert.match(res.text, /^drover_deployments_created_total [1-9]\d*$/m);
        assert.match(res.text, /^drover_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/activate",status="201"\} [1-9]\d*$/m);
        assertError(await api(t, 'GET', '/metrics', { token: activate }), 'DROVER_ERR_FORBIDDEN');
        assertError(await api(t, 'GET', '/metrics'), 'DROVER_ERR_UNAUTHORIZED');
      });
    });
  });
}

describe('agent hub robustness (own process, since the failure mode is a crash)', () => {
  test(
    'an unknown type in non-ASCII text closes with 4400 and the server keeps running',
    async () => {
      const support = new URL('./support.js', import.meta.url).href;
      const script = `
        const { startTestServer, AgentSocket } = await import(${JSON.stringify(support)});
        process.on('unhandledRejection', (err) => { console.error('unhandledRejection: ' + err.message); process.exitCode = 1; });
        const t = await startTestServer('sqlite');
        try {
          const s = await AgentSocket.open(t.wsUrl, (await t.mint('agent')).token);
          s.send({ type: 'é'.repeat(60) });
          const closed = await s.closedWithin(1500).catch((err) => ({ code: 0, reason: err.message }));
          const health = await fetch(t.url + '/api/v1/health');
          console.log(JSON.stringify({ code: closed.code, reason: closed.reason, health: health.status }));
          s.close();
        } finally {
          await t.close();
        }`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.doesNotMatch(stderr, /unhandledRejection|RangeError/);
      assert.equal(code, 0, stderr);
      const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { code: number; reason: string; health: number };
      assert.equal(result.code, 4400, result.reason);
      assert.ok(Buffer.byteLength(result.reason) <= 123);
      assert.match(result.reason, /^agent frame has unknown type "é+/);
      assert.equal(result.health, 200);
    },
  );
});
