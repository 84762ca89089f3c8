/**
 * The audit log over a real server, on SQLite and on PostgreSQL: every
 * state-changing route declares what it records (and one that forgets is
 * refused); successful changes by tokens and signed-in users are recorded
 * with who, what, target, workspace and address, refused and failed ones
 * are not, and each route's target and details are what it picks
 * (activations, cancels, re-runs, labels, decommissions, caches, GC); only admins read it (a workspace's admins their workspace,
 * global admins everything); filters and pages; retention; and no secret —
 * token text, token secrets, passwords, session cookies — ever reaches the
 * table.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { pino } from 'pino';
import { CSRF_HEADER, type AuditEntry, type Role } from '@drover/protocol';
import { createUser } from '../src/auth/users.js';
import { installAccess, access } from '../src/http/access.js';
import { fromResponse, installAudit } from '../src/http/audit.js';
import { REDACTED, recordAudit, safeDetails } from '../src/audit/service.js';
import { AuditRetention } from '../src/audit/retention.js';
import { createWorkspace } from '../src/workspaces/repository.js';
import { AgentSocket } from './fake-agent.js';
import { api, backendCases, startTestServer, storePath, type MintedToken, type TestServer } from './support.js';

const PASSWORD = 'audit horse battery staple';

interface Browser {
  readonly cookie: string;
  readonly csrf: string;
}

for (const { backend, skip } of await backendCases()) {
  describe(`audit log over ${backend}`, { skip }, () => {
    let t: TestServer;
    let admin: MintedToken;
    /** Every secret the tests handle: none may be found in the audit table. */
    const secrets: string[] = [PASSWORD];

    async function signIn(name: string): Promise<Browser> {
      const res = await api(t, 'POST', '/api/v1/session', { body: { name, password: PASSWORD } });
      assert.equal(res.status, 200, res.text);
      const cookie = String(res.headers['set-cookie']).split(';')[0] ?? '';
      secrets.push(cookie.slice(cookie.indexOf('=') + 1), String(res.json.csrfToken));
      return { cookie, csrf: String(res.json.csrfToken) };
    }

    async function user(name: string, role: Role, workspace: string | null): Promise<Browser> {
      await createUser(t.db, { name, password: PASSWORD, grant: { role, workspace } });
      return signIn(name);
    }

    function call(who: Browser, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown) {
      return api(t, method, url, { body, headers: { cookie: who.cookie, [CSRF_HEADER]: who.csrf } });
    }

    async function entries(query = '', token = admin.token): Promise<AuditEntry[]> {
      const res = await api(t, 'GET', `/api/v1/audit${query}`, { token });
      assert.equal(res.status, 200, res.text);
      return res.json.entries as AuditEntry[];
    }

    before(async () => {
      t = await startTestServer(backend, { schemaPrefix: 'drover_audit_' });
      admin = await t.mint('admin', { description: 'ci admin' });
      secrets.push(admin.token);
    });
    after(() => t.close());

    test('every state-changing route declares its audit, and a route that forgets is refused at start-up', async () => {
      const routes = t.server.app.routeAudit;
      assert.ok(routes.length >= 39, `found only ${routes.length} audited routes`);
      const action = (method: string, url: string) => {
        const declared = routes.find((r) => r.method === method && r.url === url)?.audit;
        return declared ? declared.action : declared;
      };
      assert.equal(action('POST', '/api/v1/tokens'), 'token.create');
      assert.equal(action('DELETE', '/api/v1/workspaces/:workspace/tokens/:id'), 'token.revoke');
      assert.equal(action('POST', '/api/v1/activate'), 'activation.create');
      assert.equal(action('POST', '/api/v1/deployments/:id/cancel'), 'deployment.cancel');
      assert.equal(action('POST', '/api/v1/activations/:id/pause'), 'rollout.pause');
      assert.equal(action('PUT', '/api/v1/workspace/cache'), 'workspace.set-cache');
      assert.equal(action('POST', '/api/v1/workspaces'), 'workspace.create');
      assert.equal(action('POST', '/api/v1/caches'), 'cache.create');
      assert.equal(action('POST', '/api/v1/session'), 'session.create');
      // NAR and narinfo uploads are the cache's data, not its settings.
      assert.equal(action('PUT', '/cache/:name/nar/:file'), undefined);
      const bare = Fastify();
      installAccess(bare, t.server.context);
      installAudit(bare, t.server.context);
      assert.throws(
        () => bare.post('/forgot', { config: { access: access.user } }, async () => 'no audit'),
        /route POST \/forgot changes state but declares no audit/,
      );
      assert.throws(
        () => bare.post('/misnamed', { config: { access: access.user, audit: { action: 'CreateThing' } } }, async () => 'bad name'),
        /declares audit action "CreateThing", not a noun\.verb name/,
      );
      bare.post('/nothing', { config: { access: access.user, audit: false } }, async () => 'said so');
      await bare.close();
    });

    test('facts are read from the object the route answered, not parsed back from the text sent', async () => {
      const bare = Fastify();
      installAccess(bare, t.server.context);
      installAudit(bare, t.server.context);
      const target = `answered-${randomUUID()}`;
      bare.post(
        '/answered',
        {
          config: {
            access: access.public,
            audit: {
              action: 'test.answer',
              target: fromResponse('id'),
              actor: () => ({ kind: 'local', id: 'tester', label: 'tester' }),
              workspace: () => 'default',
            },
          },
        },
        // A serializer whose text says otherwise: the entry must carry the object's id.
        async (_request, reply) => reply.serializer(() => JSON.stringify({ id: 'from-the-text' })).send({ id: target }),
      );
      const res = await bare.inject({ method: 'POST', url: '/answered' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json<{ id: string }>().id, 'from-the-text');
      await bare.close();
      const found = await entries(`?target=${target}`);
      assert.equal(found.length, 1, 'the entry should name the id of the object answered');
      assert.equal(found[0]?.action, 'test.answer');
      assert.equal((await entries('?target=from-the-text')).length, 0);
    });

    test('a token creating and revoking a token is recorded with who, what, target, workspace and address; a failed revoke is not', async () => {
      const created = await api(t, 'POST', '/api/v1/tokens', { token: admin.token, body: { kind: 'activate', description: 'deploy from CI' } });
      assert.equal(created.status, 201, created.text);
      secrets.push(String(created.json.token));
      const id = String(created.json.info.id);
      const [entry] = await entries(`?target=${id}`);
      assert.ok(entry, 'no entry for the new token');
      assert.equal(entry.action, 'token.create');
      assert.deepEqual(entry.actor, { kind: 'token', id: admin.id, label: 'ci admin' });
      assert.equal(entry.workspace, 'default');
      assert.equal(entry.address, '127.0.0.1');
      assert.equal(entry.details['kind'], 'activate');
      assert.equal(entry.details['description'], 'deploy from CI');
      assert.ok(Math.abs(Date.parse(entry.at) - Date.now()) < 60_000, entry.at);

      const missing = await api(t, 'DELETE', '/api/v1/tokens/0123456789abcdef', { token: admin.token });
      assert.equal(missing.status, 404, missing.text);
      assert.equal((await entries('?target=0123456789abcdef')).length, 0, 'a failed revoke was recorded');
      const revoked = await api(t, 'DELETE', `/api/v1/tokens/${id}`, { token: admin.token });
      assert.equal(revoked.status, 204, revoked.text);
      assert.deepEqual(
        (await entries(`?target=${id}`)).map((e) => e.action),
        ['token.revoke', 'token.create'],
      );
    });

    test('only admins read the log: an activate token and a deployer are refused, and a workspace admin sees only its workspace', async () => {
      const activate = await t.mint('activate');
      secrets.push(activate.token);
      const refused = await api(t, 'GET', '/api/v1/audit', { token: activate.token });
      assert.equal(refused.status, 403, refused.text);
      const deployer = await user(`deployer-${randomUUID().slice(0, 8)}`, 'deployer', 'default');
      assert.equal((await call(deployer, 'GET', '/api/v1/workspaces/default/audit')).status, 403);
      assert.equal((await call(deployer, 'GET', '/api/v1/admin/audit')).status, 403);

      const other = await createWorkspace(t.db, `other-${randomUUID().slice(0, 8)}`);
      const otherAdmin = await t.mint('admin', { workspaceId: other.id });
      secrets.push(otherAdmin.token);
      const mine = await api(t, 'POST', '/api/v1/tokens', { token: otherAdmin.token, body: { kind: 'pull' } });
      assert.equal(mine.status, 201, mine.text);
      secrets.push(String(mine.json.token));
      const theirs = await entries('', otherAdmin.token);
      assert.deepEqual(
        theirs.map((e) => [e.action, e.workspace]),
        [['token.create', other.name]],
      );
      assert.ok((await entries()).every((e) => e.workspace === 'default'));
    });

    test('signed-in users: sign-in, workspace changes and a global admin reading every workspace with filters and pages', async () => {
      const rootName = `root-${randomUUID().slice(0, 8)}`;
      const root = await user(rootName, 'admin', null);
      const wsName = `team-${randomUUID().slice(0, 8)}`;
      const made = await call(root, 'POST', '/api/v1/workspaces', { name: wsName });
      assert.equal(made.status, 201, made.text);
      const renamed = `${wsName}-new`;
      assert.equal((await call(root, 'PATCH', `/api/v1/workspaces/${wsName}`, { name: renamed })).status, 200);
      assert.equal((await call(root, 'PUT', `/api/v1/workspaces/${renamed}/cache`, { substituter: null, publicKey: null })).status, 200);
      // Refused for want of the confirmation: not recorded.
      assert.equal((await call(root, 'DELETE', `/api/v1/workspaces/${renamed}`)).status, 400);

      const all = await call(root, 'GET', `/api/v1/admin/audit?actor=${rootName}`);
      assert.equal(all.status, 200, all.text);
      assert.deepEqual(
        (all.json.entries as AuditEntry[]).map((e) => [e.action, e.target, e.workspace]),
        [
          ['workspace.set-cache', renamed, renamed],
          ['workspace.rename', wsName, wsName],
          ['workspace.create', wsName, wsName],
          ['session.create', rootName, null],
        ],
      );
      const renameEntry = (all.json.entries as AuditEntry[])[1];
      assert.ok(renameEntry);
      assert.equal(renameEntry.details['to'], renamed);
      assert.deepEqual(renameEntry.actor, { kind: 'user', id: rootName, label: rootName });

      const deleted = await call(root, 'DELETE', `/api/v1/workspaces/${renamed}?confirm=${renamed}`);
      assert.equal(deleted.status, 204, deleted.text);
      // The deleted workspace's entries stay, found by its last name.
      const gone = await call(root, 'GET', `/api/v1/admin/audit?workspace=${renamed}&action=workspace`);
      assert.deepEqual(
        (gone.json.entries as AuditEntry[]).map((e) => e.action),
        ['workspace.delete', 'workspace.set-cache'],
      );

      const page = await call(root, 'GET', `/api/v1/admin/audit?actor=${rootName}&limit=2&offset=1`);
      assert.equal(page.json.total, 5);
      assert.deepEqual(
        (page.json.entries as AuditEntry[]).map((e) => e.action),
        ['workspace.set-cache', 'workspace.rename'],
      );
      const sessions = await call(root, 'GET', `/api/v1/admin/audit?action=session&target=${rootName}`);
      assert.deepEqual(
        (sessions.json.entries as AuditEntry[]).map((e) => e.action),
        ['session.create'],
      );
      const future = await call(root, 'GET', `/api/v1/admin/audit?actor=${rootName}&since=2999-01-01T00:00:00Z`);
      assert.equal(future.json.total, 0);
      const past = await call(root, 'GET', `/api/v1/admin/audit?actor=${rootName}&until=2000-01-01T00:00:00Z`);
      assert.equal(past.json.total, 0);
      assert.equal((await call(root, 'DELETE', '/api/v1/session')).status, 204);
      const out = await api(t, 'GET', `/api/v1/audit?action=session.delete&actor=${rootName}`, { token: admin.token });
      // Signing out is server-wide: not in the default workspace's log.
      assert.equal(out.json.total, 0);
    });

    test('deployments, cancels, re-runs, agents and caches are recorded with the facts their routes pick', async () => {
      const name = `audit-web-${randomUUID().slice(0, 6)}`;
      const agentToken = await t.mint('agent', { agent: name });
      secrets.push(agentToken.token);
      const { socket } = await AgentSocket.register(t.wsUrl, agentToken.token, name);
      try {
        const activated = await api(t, 'POST', '/api/v1/activate', { token: admin.token, body: { agents: { [name]: storePath('audit-system') } } });
        assert.equal(activated.status, 201, activated.text);
        const activationId = String(activated.json.activationId);
        const deploymentId = String(activated.json.agents[name].id);
        const [activation] = await entries(`?target=${activationId}`);
        assert.equal(activation?.action, 'activation.create');
        assert.deepEqual(activation.details, { agents: 1, on: null, dry: false, force: false, cacheCheck: true });

        const cancelled = await api(t, 'POST', `/api/v1/deployments/${deploymentId}/cancel`, { token: admin.token });
        assert.ok(cancelled.status === 200 || cancelled.status === 202, cancelled.text);
        const rerun = await api(t, 'POST', `/api/v1/deployments/${deploymentId}/rerun`, { token: admin.token });
        assert.equal(rerun.status, 201, rerun.text);
        assert.deepEqual(
          (await entries(`?target=${deploymentId}`)).map((e) => [e.action, e.details]),
          [
            ['deployment.rerun', { deployment: rerun.json.id }],
            ['deployment.cancel', { status: cancelled.json.status }],
          ],
        );

        const labelled = await api(t, 'PATCH', `/api/v1/agents/${name}/labels`, { token: admin.token, body: { labels: { role: 'web' } } });
        assert.equal(labelled.status, 200, labelled.text);
        const removed = await api(t, 'DELETE', `/api/v1/agents/${name}`, { token: admin.token });
        assert.equal(removed.status, 204, removed.text);
        assert.deepEqual(
          (await entries(`?target=${name}`)).map((e) => [e.action, e.details]),
          [
            ['agent.decommission', {}],
            ['agent.set-labels', { mode: 'merge', labels: '{"role":"web"}' }],
          ],
        );
      } finally {
        socket.close();
      }

      const cache = `audit-${randomUUID().slice(0, 6)}`;
      assert.equal((await api(t, 'POST', '/api/v1/caches', { token: admin.token, body: { name: cache } })).status, 201);
      const dry = await api(t, 'POST', `/api/v1/caches/${cache}/gc`, { token: admin.token, body: { dryRun: true } });
      assert.equal(dry.status, 200, dry.text);
      const gc = await api(t, 'POST', `/api/v1/caches/${cache}/gc`, { token: admin.token, body: {} });
      assert.equal(gc.status, 200, gc.text);
      // The dry run deleted nothing and is not recorded.
      assert.deepEqual(
        (await entries(`?target=${cache}`)).map((e) => [e.action, e.details]),
        [
          ['cache.gc', { deleted: 0, bytesFreed: 0 }],
          ['cache.create', { public: false }],
        ],
      );
    });

    test('retention deletes entries past the period and keeps the rest', async () => {
      const old = new Date(Date.now() - 400 * 24 * 3600 * 1000).toISOString();
      const id = randomUUID();
      await t.db
        .insertInto('audit_log')
        .values({
          id,
          at: old,
          workspace_id: t.defaultWorkspaceId,
          workspace_name: 'default',
          action: 'token.create',
          actor_kind: 'local',
          actor_id: 'root',
          actor_label: 'root@host',
          target: 'ancient',
          address: 'local',
          route: null,
          details: '{}',
        })
        .execute();
      assert.equal((await entries('?target=ancient')).length, 1);
      // Retention 0 keeps entries for ever.
      const forever = new AuditRetention(t.db, pino({ level: 'silent' }), 0);
      assert.equal(await forever.prune(), 0);
      await forever.stop();
      assert.equal((await entries('?target=ancient')).length, 1);
      const before = (await api(t, 'GET', '/api/v1/audit', { token: admin.token })).json.total as number;
      const res = await api(t, 'GET', '/api/v1/audit', { token: admin.token });
      assert.equal(res.json.retentionDays, 365);
      assert.equal(await t.server.context.auditRetention.prune(), 1);
      assert.equal((await entries('?target=ancient')).length, 0);
      assert.equal((await api(t, 'GET', '/api/v1/audit', { token: admin.token })).json.total, before - 1);
    });

    test('no secret reaches the table: token text and secrets, passwords, cookies and CSRF tokens are nowhere in it', async () => {
      // A detail that would carry a secret is dropped or replaced, whoever hands it over.
      await recordAudit(t.db, {
        action: 'test.record',
        actor: { kind: 'local', id: 'tester', label: 'tester@host' },
        address: 'local',
        details: { password: PASSWORD, note: admin.token, nested: { secret: PASSWORD, ok: 1 }, hex: 'a'.repeat(64) },
      });
      const rows = await t.db.selectFrom('audit_log').selectAll().execute();
      assert.ok(rows.length >= 8, `only ${rows.length} entries`);
      const dump = JSON.stringify(rows);
      for (const secret of secrets) {
        assert.ok(secret.length >= 8, `a test secret is too short to search for: ${JSON.stringify(secret)}`);
        assert.ok(!dump.includes(secret), `a secret was recorded: ${secret.slice(0, 12)}…`);
        // Token text is drover_KIND_ID_SECRET: its secret part alone must not be there either.
        const secretPart = secret.split('_').at(-1) ?? secret;
        assert.ok(!dump.includes(secretPart), `a token secret was recorded: ${secretPart.slice(0, 8)}…`);
      }
      const tested = rows.find((r) => r.action === 'test.record');
      assert.deepEqual(JSON.parse(tested?.details ?? '{}'), { note: REDACTED, nested: '{"ok":1}', hex: REDACTED });
      assert.deepEqual(safeDetails({ Password: 'x', csrfToken: 'y', token: 'z', tokenId: 'kept' }), { tokenId: 'kept' });
    });
  });
}
