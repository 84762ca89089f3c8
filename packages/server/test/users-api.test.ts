/**
 * Users, roles, sessions and workspaces through the HTTP API of a real
 * server, on SQLite and on PostgreSQL: signing in and out, cookie attributes,
 * wrong passwords and their rate limit, CSRF, expiry; what each role may do
 * (403 DROVER_ERR_ROLE), workspaces a user has no role in looking absent,
 * tokens confined to their workspace; creating, renaming and deleting
 * workspaces; paged and filtered agent lists; re-run, re-deploy and cancel of
 * a running deployment; the live workspace event stream; the web UI files.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSRF_HEADER, ERRORS, type ErrorCode, type Role } from '@drover/protocol';
import { createUser } from '../src/auth/users.js';
import { createWorkspace } from '../src/workspaces/repository.js';
import { Teardown, waitFor } from '@drover/test-support';
import { AgentSocket, WAIT_MS } from './fake-agent.js';
import { api, backendCases, nowIso, parseEventStream, startTestServer, storePath, type ApiResponse, type StreamEvent, type TestServer } from './support.js';

function assertError(res: ApiResponse, code: ErrorCode, message?: RegExp): void {
  assert.equal(res.status, ERRORS[code].status, `status of ${res.text}`);
  assert.equal(res.json?.code, code, res.text);
  if (message) assert.match(res.json.message, message);
}

const PASSWORD = 'correct horse battery';

interface Browser {
  readonly cookie: string;
  readonly csrf: string;
}

for (const { backend, skip } of await backendCases()) {
  describe(`users, roles and workspaces over ${backend}`, { skip }, () => {
    let t: TestServer;
    let webRoot: string;
    const sockets: AgentSocket[] = [];
    const as: Record<string, Browser> = {};
    /** What `before` created, undone by `after` (after the sockets are closed). */
    const teardown = new Teardown();

    async function signIn(name: string, password = PASSWORD): Promise<ApiResponse> {
      return api(t, 'POST', '/api/v1/session', { body: { name, password } });
    }

    function cookieOf(res: ApiResponse): string {
      const header = String(res.headers['set-cookie']);
      return header.split(';')[0]!;
    }

    /** A request as a signed-in browser would send it: cookie, plus the CSRF header. */
    function call(who: Browser, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown, csrf = true) {
      return api(t, method, url, { body, headers: { cookie: who.cookie, ...(csrf ? { [CSRF_HEADER]: who.csrf } : {}) } });
    }

    async function user(name: string, role: Role, workspace: string | null): Promise<void> {
      await createUser(t.db, { name, password: PASSWORD, grant: { role, workspace } });
      const res = await signIn(name);
      assert.equal(res.status, 200, res.text);
      as[name] = { cookie: cookieOf(res), csrf: res.json.csrfToken };
    }

    async function agent(name: string, workspaceId?: string): Promise<AgentSocket> {
      const token = (await t.mint('agent', workspaceId ? { workspaceId } : {})).token;
      const { socket } = await AgentSocket.register(t.wsUrl, token, name);
      sockets.push(socket);
      return socket;
    }

    before(async () => {
      webRoot = await mkdtemp(join(tmpdir(), 'drover-web-root-'));
      teardown.add(() => rm(webRoot, { recursive: true, force: true }));
      await mkdir(join(webRoot, 'assets'));
      await writeFile(join(webRoot, 'index.html'), '<!doctype html><title>Drover UI</title><div id="app"></div>');
      await writeFile(join(webRoot, 'assets', 'app-1234.js'), 'console.log("drover")');
      t = await startTestServer(backend, { schemaPrefix: 'drover_users_', server: { webRoot } });
      teardown.add(() => t.close());
      await createWorkspace(t.db, 'other');
      await user('root', 'admin', null);
      await user('dora', 'deployer', 'default');
      await user('vic', 'viewer', 'default');
      await user('olga', 'admin', 'other');
    });

    after(async () => {
      for (const s of sockets) s.close();
      await teardown.run();
    });

    test('signing in sets an httpOnly, SameSite=Strict session cookie and returns the user, its workspaces and a CSRF token', async () => {
      const res = await signIn('dora');
      assert.equal(res.status, 200, res.text);
      const cookie = String(res.headers['set-cookie']);
      assert.match(cookie, /^drover_session=[0-9a-f]{16}\.[0-9a-f]{64}; /);
      for (const attribute of ['HttpOnly', 'SameSite=Strict', 'Path=/', 'Max-Age=43200']) assert.ok(cookie.includes(attribute), `${attribute} in ${cookie}`);
      assert.ok(!cookie.includes('Secure'), 'no Secure flag on a plain-http public URL');
      assert.deepEqual(res.json.user.grants, [{ workspace: 'default', role: 'deployer' }]);
      assert.deepEqual(res.json.workspaces, [{ name: 'default', role: 'deployer' }]);
      assert.match(res.json.csrfToken, /^[0-9a-f]{40}$/);
      const again = await api(t, 'GET', '/api/v1/session', { headers: { cookie: cookieOf(res) } });
      assert.equal(again.json.user.name, 'dora');
      assert.equal(again.json.csrfToken, res.json.csrfToken);
    });

    test('a wrong password and an unknown user get the same 401; five failures lock the name for a minute', async () => {
      await createUser(t.db, { name: 'mallory', password: PASSWORD, grant: { role: 'viewer', workspace: null } });
      const wrong = await signIn('mallory', 'not the password');
      const unknown = await signIn('nobody-at-all', 'not the password');
      assertError(wrong, 'DROVER_ERR_BAD_CREDENTIALS');
      assertError(unknown, 'DROVER_ERR_BAD_CREDENTIALS');
      assert.equal(wrong.json.message, unknown.json.message, 'nothing tells which user names exist');
      assert.equal(wrong.headers['set-cookie'], undefined);
      for (let i = 0; i < 4; i++) assertError(await signIn('mallory', `guess ${i}`), 'DROVER_ERR_BAD_CREDENTIALS');
      assertError(await signIn('mallory'), 'DROVER_ERR_TOO_MANY_ATTEMPTS');
    });

    test('no cookie, a forged cookie or an expired session → 401', async () => {
      assertError(await api(t, 'GET', '/api/v1/session'), 'DROVER_ERR_UNAUTHORIZED');
      assertError(
        await api(t, 'GET', '/api/v1/session', { headers: { cookie: `drover_session=${'a'.repeat(16)}.${'b'.repeat(64)}` } }),
        'DROVER_ERR_SESSION_EXPIRED',
      );
      assertError(await api(t, 'GET', '/api/v1/session', { headers: { cookie: 'drover_session=garbage' } }), 'DROVER_ERR_SESSION_EXPIRED');
      const res = await signIn('vic');
      const id = cookieOf(res).split('=')[1]!.split('.')[0]!;
      await t.db
        .updateTable('sessions')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('id', '=', id)
        .execute();
      assertError(await api(t, 'GET', '/api/v1/session', { headers: { cookie: cookieOf(res) } }), 'DROVER_ERR_SESSION_EXPIRED', /expired at/);
    });

    test('a state change with the session cookie needs the CSRF header of that session', async () => {
      const url = '/api/v1/workspaces/default/activate';
      const body = { agents: { 'no-such-agent': storePath('x') } };
      assertError(await call(as['dora']!, 'POST', url, body, false), 'DROVER_ERR_CSRF');
      const other = as['vic']!;
      assertError(await api(t, 'POST', url, { body, headers: { cookie: as['dora']!.cookie, [CSRF_HEADER]: other.csrf } }), 'DROVER_ERR_CSRF');
      // With the right header the request gets through to validation.
      assertError(await call(as['dora']!, 'POST', url, body), 'DROVER_ERR_UNKNOWN_AGENT');
      // Reads need no header.
      assert.equal((await call(as['dora']!, 'GET', '/api/v1/workspaces/default/agents', undefined, false)).status, 200);
    });

    test('viewers read; deployers also deploy; only admins see tokens — the API answers 403 DROVER_ERR_ROLE', async () => {
      await agent('role-web');
      const deploy = { agents: { 'role-web': storePath('role') } };
      assert.equal((await call(as['vic']!, 'GET', '/api/v1/workspaces/default/agents')).status, 200);
      assertError(
        await call(as['vic']!, 'POST', '/api/v1/workspaces/default/activate', deploy),
        'DROVER_ERR_ROLE',
        /viewer role in workspace default cannot deploy/,
      );
      assertError(await call(as['vic']!, 'GET', '/api/v1/workspaces/default/tokens'), 'DROVER_ERR_ROLE');
      assertError(await call(as['vic']!, 'POST', '/api/v1/workspaces/default/tokens', { kind: 'agent' }), 'DROVER_ERR_ROLE');
      assertError(await call(as['dora']!, 'GET', '/api/v1/workspaces/default/tokens'), 'DROVER_ERR_ROLE');
      assertError(await call(as['dora']!, 'PUT', '/api/v1/workspaces/default/cache', { substituter: null, publicKey: null }), 'DROVER_ERR_ROLE');
      const activated = await call(as['dora']!, 'POST', '/api/v1/workspaces/default/activate', deploy);
      assert.equal(activated.status, 201, activated.text);
      const id = activated.json.agents['role-web'].id;
      assert.equal(activated.json.agents['role-web'].url, `${t.url}/w/default/deployments/${id}`);
      const shown = await call(as['vic']!, 'GET', `/api/v1/workspaces/default/deployments/${id}`);
      assert.deepEqual(shown.json.createdBy, { kind: 'user', id: 'dora', label: 'dora' });
      // Binary caches: admins create them, every role sees them (the settings page shows what agents use).
      assertError(await call(as['dora']!, 'POST', '/api/v1/workspaces/default/caches', { name: 'roles' }), 'DROVER_ERR_ROLE');
      const cache = await call(as['root']!, 'POST', '/api/v1/workspaces/default/caches', { name: 'roles' });
      assert.equal(cache.status, 201, cache.text);
      assert.match(cache.json.publicKey, /^roles-1:/);
      assert.deepEqual(
        (await call(as['vic']!, 'GET', '/api/v1/workspaces/default/caches')).json.caches.map((c: { name: string }) => c.name),
        ['roles'],
      );
      assertError(await call(as['olga']!, 'GET', '/api/v1/workspaces/default/caches'), 'DROVER_ERR_WORKSPACE_NOT_FOUND');
      const created = await call(as['root']!, 'POST', '/api/v1/workspaces/default/tokens', { kind: 'activate', description: 'ci' });
      assert.equal(created.status, 201, created.text);
      // With a built-in cache in the workspace, activate checks that it holds every store path before creating anything.
      const refused = await api(t, 'POST', '/api/v1/activate', { token: created.json.token, body: deploy });
      assertError(refused, 'DROVER_ERR_NOT_IN_CACHE', /1 store path is not in built-in cache roles.*drover push roles \/nix\/store\//);
      assert.deepEqual(
        refused.json.details.map((d: { path: string; code: string }) => `${d.path} ${d.code}`),
        ['/agents/role-web DROVER_ERR_NOT_IN_CACHE'],
      );
      const byToken = await api(t, 'POST', '/api/v1/activate?cacheCheck=false', { token: created.json.token, body: deploy });
      assert.deepEqual((await api(t, 'GET', `/api/v1/deployments/${byToken.json.agents['role-web'].id}`, { token: created.json.token })).json.createdBy, {
        kind: 'token',
        id: created.json.info.id,
        label: 'ci',
      });
    });

    test('a workspace a user has no role in looks like one that does not exist; tokens stay in their own', async () => {
      assertError(await call(as['vic']!, 'GET', '/api/v1/workspaces/other/agents'), 'DROVER_ERR_WORKSPACE_NOT_FOUND');
      assertError(await call(as['olga']!, 'GET', '/api/v1/workspaces/default'), 'DROVER_ERR_WORKSPACE_NOT_FOUND');
      assert.deepEqual(
        (await call(as['olga']!, 'GET', '/api/v1/workspaces')).json.workspaces.map((w: { name: string }) => w.name),
        ['other'],
      );
      assert.deepEqual(
        (await call(as['root']!, 'GET', '/api/v1/workspaces')).json.workspaces.map((w: { name: string; role: string }) => [w.name, w.role]),
        [
          ['default', 'admin'],
          ['other', 'admin'],
        ],
      );
      const token = (await t.mint('admin')).token;
      assert.equal((await api(t, 'GET', '/api/v1/workspaces/default/agents', { token })).status, 200);
      assertError(await api(t, 'GET', '/api/v1/workspaces/other/agents', { token }), 'DROVER_ERR_FORBIDDEN', /belongs to workspace default, not other/);
      assertError(await call(as['vic']!, 'GET', '/api/v1/agents'), 'DROVER_ERR_VALIDATION', /names the workspace in the URL/);
    });

    test('only a global admin creates workspaces; admins rename and delete them, deletion needs the name typed again', async () => {
      assertError(await call(as['olga']!, 'POST', '/api/v1/workspaces', { name: 'team-x' }), 'DROVER_ERR_ROLE');
      assertError(await api(t, 'POST', '/api/v1/workspaces', { token: (await t.mint('admin')).token, body: { name: 'team-x' } }), 'DROVER_ERR_FORBIDDEN');
      const created = await call(as['root']!, 'POST', '/api/v1/workspaces', { name: 'team-x' });
      assert.equal(created.status, 201, created.text);
      assertError(await call(as['root']!, 'POST', '/api/v1/workspaces', { name: 'team-x' }), 'DROVER_ERR_WORKSPACE_EXISTS');
      assertError(
        await call(as['root']!, 'POST', '/api/v1/workspaces', { name: 'Team X' }),
        'DROVER_ERR_INVALID_WORKSPACE_NAME',
        /body\/name is not a workspace name/,
      );
      assertError(
        await call(as['root']!, 'GET', '/api/v1/workspaces/Team_X/agents'),
        'DROVER_ERR_INVALID_WORKSPACE_NAME',
        /params\/workspace is not a workspace name/,
      );
      assertError(await call(as['root']!, 'PATCH', '/api/v1/workspaces/team-x', { name: 'default' }), 'DROVER_ERR_WORKSPACE_EXISTS');
      const renamed = await call(as['root']!, 'PATCH', '/api/v1/workspaces/team-x', { name: 'team-y' });
      assert.equal(renamed.json.name, 'team-y');
      assertError(await call(as['root']!, 'GET', '/api/v1/workspaces/team-x'), 'DROVER_ERR_WORKSPACE_NOT_FOUND');

      const ws = await t.db.selectFrom('workspaces').select('id').where('name', '=', 'team-y').executeTakeFirstOrThrow();
      const socket = await agent('doomed', ws.id);
      assertError(await call(as['root']!, 'DELETE', '/api/v1/workspaces/team-y?confirm=team-x'), 'DROVER_ERR_CONFIRMATION');
      assert.equal((await call(as['root']!, 'DELETE', '/api/v1/workspaces/team-y?confirm=team-y')).status, 204);
      assert.equal((await socket.closedWithin()).code, 4401, "the deleted workspace's agents are disconnected at once");
      assertError(await call(as['root']!, 'GET', '/api/v1/workspaces/team-y'), 'DROVER_ERR_WORKSPACE_NOT_FOUND');
      assert.equal((await t.db.selectFrom('agents').select('id').where('workspace_id', '=', ws.id).execute()).length, 0);
    });

    test('signing out ends the session; a new password ends every session of the user', async () => {
      const res = await signIn('vic');
      const who = { cookie: cookieOf(res), csrf: res.json.csrfToken as string };
      assertError(await call(who, 'DELETE', '/api/v1/session', undefined, false), 'DROVER_ERR_CSRF');
      const out = await call(who, 'DELETE', '/api/v1/session');
      assert.equal(out.status, 204);
      assert.match(String(out.headers['set-cookie']), /^drover_session=; .*Max-Age=0/);
      assertError(await call(who, 'GET', '/api/v1/session'), 'DROVER_ERR_SESSION_EXPIRED');

      const { setPassword } = await import('../src/auth/users.js');
      const before = await signIn('olga');
      await setPassword(t.db, 'olga', 'a brand new password');
      assertError(await api(t, 'GET', '/api/v1/session', { headers: { cookie: cookieOf(before) } }), 'DROVER_ERR_SESSION_EXPIRED');
      assertError(await signIn('olga'), 'DROVER_ERR_BAD_CREDENTIALS');
      assert.equal((await signIn('olga', 'a brand new password')).status, 200);
    });

    test('agents page by name with a total, filter by substring and by online/offline', async () => {
      const ws = await t.db.selectFrom('workspaces').select('id').where('name', '=', 'other').executeTakeFirstOrThrow();
      for (const name of ['pg-a', 'pg-b', 'pg-c', 'PG-D']) await agent(name, ws.id);
      const token = (await t.mint('agent', { workspaceId: ws.id, agent: 'pg-offline' })).token;
      assert.ok(token, 'a bound token declares pg-offline, which never connects');
      const list = (query: string) => call(as['root']!, 'GET', `/api/v1/workspaces/other/agents${query}`);
      const page = await list('?limit=2&offset=1');
      assert.deepEqual(
        page.json.agents.map((a: { name: string }) => a.name),
        ['pg-a', 'pg-b'],
      );
      assert.equal(page.json.total, 5);
      assert.deepEqual(
        (await list('?q=pg-')).json.agents.map((a: { name: string }) => a.name),
        ['PG-D', 'pg-a', 'pg-b', 'pg-c', 'pg-offline'],
      );
      assert.deepEqual(
        (await list('?q=d')).json.agents.map((a: { name: string }) => a.name),
        ['PG-D'],
        'case-insensitive',
      );
      assert.deepEqual((await list('?q=%25')).json.agents, [], '% is a literal character, not a wildcard');
      assert.deepEqual(
        (await list('?status=offline')).json.agents.map((a: { name: string }) => a.name),
        ['pg-offline'],
      );
      const online = await list('?status=online&limit=2');
      assert.equal(online.json.total, 4);
      assert.ok(online.json.agents.every((a: { online: boolean }) => a.online));
    });

    test('re-run repeats a finished deployment, re-deploy the current path; unfinished or nothing deployed → 409', async () => {
      const socket = await agent('rerun-web');
      const path = storePath('rerun');
      const first = await call(as['dora']!, 'POST', '/api/v1/workspaces/default/activate?cacheCheck=false', { agents: { 'rerun-web': path } });
      const id = first.json.agents['rerun-web'].id as string;
      await socket.next('deploy');
      assertError(await call(as['dora']!, 'POST', `/api/v1/workspaces/default/deployments/${id}/rerun`), 'DROVER_ERR_NOT_FINISHED');
      assertError(await call(as['dora']!, 'POST', '/api/v1/workspaces/default/agents/rerun-web/redeploy'), 'DROVER_ERR_NOTHING_DEPLOYED');
      socket.send({ type: 'deployment.started', id, time: nowIso() });
      socket.send({ type: 'deployment.finished', id, time: nowIso(), status: 'Failed', reason: 'activation failed', activePath: path });
      await socket.next('deployment.ack');
      assertError(await call(as['vic']!, 'POST', `/api/v1/workspaces/default/deployments/${id}/rerun`), 'DROVER_ERR_ROLE');
      const rerun = await call(as['dora']!, 'POST', `/api/v1/workspaces/default/deployments/${id}/rerun`);
      assert.equal(rerun.status, 201, rerun.text);
      assert.equal(rerun.json.index, 2);
      assert.equal(rerun.json.storePath, path);
      assert.equal(rerun.json.status, 'Pending');
      assert.equal((await socket.next('deploy')).deployment.id, rerun.json.id);
      const redeploy = await call(as['dora']!, 'POST', '/api/v1/workspaces/default/agents/rerun-web/redeploy');
      assert.equal(redeploy.status, 201, redeploy.text);
      assert.equal(redeploy.json.index, 3);
      assert.equal(redeploy.json.storePath, path);
    });

    test('cancelling an InProgress deployment asks the agent to stop (202); a finished one → 409', async () => {
      const socket = await agent('cancel-web');
      const first = await call(as['dora']!, 'POST', '/api/v1/workspaces/default/activate?cacheCheck=false', { agents: { 'cancel-web': storePath('c') } });
      const id = first.json.agents['cancel-web'].id as string;
      await socket.next('deploy');
      socket.send({ type: 'deployment.started', id, time: nowIso() });
      await waitFor(
        'InProgress',
        async () => (await call(as['vic']!, 'GET', `/api/v1/workspaces/default/deployments/${id}`)).json.status === 'InProgress',
        WAIT_MS,
        25,
      );
      const cancelled = await call(as['dora']!, 'POST', `/api/v1/workspaces/default/deployments/${id}/cancel`);
      assert.equal(cancelled.status, 202, cancelled.text);
      assert.equal(cancelled.json.status, 'InProgress', 'only the agent knows whether it can still stop');
      assert.equal((await socket.next('deployment.cancel')).id, id);
      socket.send({ type: 'deployment.finished', id, time: nowIso(), status: 'Cancelled', reason: 'cancelled before activation', activePath: null });
      await socket.next('deployment.ack');
      assertError(await call(as['dora']!, 'POST', `/api/v1/workspaces/default/deployments/${id}/cancel`), 'DROVER_ERR_NOT_CANCELLABLE');
    });

    test('the workspace event stream reports agents coming and going and deployments changing, live', async () => {
      const controller = new AbortController();
      const res = await fetch(`${t.url}/api/v1/workspaces/default/events`, { headers: { cookie: as['vic']!.cookie }, signal: controller.signal });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      let text = '';
      const events: StreamEvent[] = [];
      const waitFor = async (check: (e: StreamEvent) => boolean, what: string): Promise<StreamEvent> => {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const found = events.find(check);
          if (found) return found;
          assert.ok(Date.now() < deadline, `no ${what} event; got ${JSON.stringify(events.map((e) => e.event))}`);
          const { value, done } = await reader.read();
          assert.ok(!done, 'stream ended');
          text += new TextDecoder().decode(value);
          const cut = text.lastIndexOf('\n\n');
          if (cut >= 0) {
            events.push(...parseEventStream(text.slice(0, cut + 2)));
            text = text.slice(cut + 2);
          }
        }
      };
      try {
        await waitFor((e) => e.event === 'ready', 'ready');
        const socket = await agent('live-web');
        const came = await waitFor((e) => e.event === 'agents' && JSON.stringify(e.data).includes('live-web'), 'agents');
        const row = (came.data['agents'] as { name: string; online: boolean }[]).find((a) => a.name === 'live-web')!;
        assert.equal(row.online, true);
        const activated = await call(as['dora']!, 'POST', '/api/v1/workspaces/default/activate?cacheCheck=false', {
          agents: { 'live-web': storePath('live') },
        });
        const id = activated.json.agents['live-web'].id as string;
        await waitFor((e) => e.event === 'deployments' && JSON.stringify(e.data).includes(id), 'deployments');
        socket.close();
        await waitFor(
          (e) => e.event === 'agents' && (e.data['agents'] as { name: string; online: boolean }[]).some((a) => a.name === 'live-web' && !a.online),
          'agent offline',
        );
        const otherWs = await t.db.selectFrom('workspaces').select('id').where('name', '=', 'other').executeTakeFirstOrThrow();
        await agent('elsewhere', otherWs.id);
        await new Promise((r) => setTimeout(r, 800));
        assert.ok(!JSON.stringify(events).includes('elsewhere'), 'no news of other workspaces');
      } finally {
        controller.abort();
      }
    });

    test('the web UI: index.html for app routes with a strict CSP, hashed assets cached for a year, nothing outside assets/', async () => {
      for (const path of ['/', '/login', '/w/default/deployments/0e8f0a52-7a5a-4a0a-9a49-3c7f4e1e7e55']) {
        const res = await api(t, 'GET', path);
        assert.equal(res.status, 200, path);
        assert.match(res.text, /<title>Drover UI<\/title>/);
        assert.match(String(res.headers['content-security-policy']), /default-src 'self'/);
        assert.equal(res.headers['x-frame-options'], 'DENY');
      }
      const asset = await api(t, 'GET', '/assets/app-1234.js');
      assert.equal(asset.status, 200);
      assert.match(String(asset.headers['content-type']), /^text\/javascript/);
      assert.match(String(asset.headers['cache-control']), /immutable/);
      for (const bad of ['/assets/../index.html', '/assets/%2e%2e/index.html', '/assets/nope.js', '/assets/']) {
        assertError(await api(t, 'GET', bad), 'DROVER_ERR_ROUTE_NOT_FOUND');
      }
    });
  });
}
