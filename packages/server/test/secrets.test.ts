/**
 * Secrets on the server (secrets/), over SQLite and PostgreSQL: the agents
 * API shows each agent's hello recipient; a secret is stored with its
 * ciphertext and shown as metadata only (to every role: no response carries
 * ciphertext), set by deployers and admins, refused for viewers; a set or a
 * removal queues one secrets-only deployment per affected agent whose order
 * holds the agent's complete set (secretsOnly, its current path) — unless a
 * real deployment is Pending, which carries the set — and a real deployment
 * supersedes a Pending secrets-only one, never the reverse; every refusal
 * (no recipient, another recipient, unknown agent, not an age file, bad
 * fields, the per-secret and per-agent limits, a path taken) stores nothing.
 * The ciphertexts are made-up age files: the server never decrypts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CSRF_HEADER, MAX_SECRET_CIPHERTEXT_CHARS, MAX_SECRETS_PER_AGENT, type Deployment, type SecretOrder } from '@drover/protocol';
import { createUser } from '../src/auth/users.js';
import { createWorkspace } from '../src/workspaces/repository.js';
import { assertError, unique, useApiServer } from './api-suite.js';
import type { AgentSocket } from './fake-agent.js';
import { api, backendCases, nowIso, storePath, type TestServer } from './support.js';

const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

/** A well-formed (made-up) age X25519 recipient. */
function recipient(): string {
  return 'age1' + [...randomBytes(58)].map((b) => BECH32[b % 32]).join('');
}

/** A base64 age file in binary format with one X25519 stanza per recipient and `payload` random bytes. */
function ageFile(recipients: number, payload = 64): string {
  const stanzas = Array.from(
    { length: recipients },
    () => `-> X25519 ${randomBytes(32).toString('base64').replace(/=+$/, '')}\n${randomBytes(32).toString('base64').replace(/=+$/, '')}\n`,
  );
  const header = `age-encryption.org/v1\n${stanzas.join('')}--- ${randomBytes(32).toString('base64').replace(/=+$/, '')}\n`;
  return Buffer.concat([Buffer.from(header), randomBytes(payload)]).toString('base64');
}

for (const { backend, skip } of await backendCases()) {
  describe(`secrets over ${backend}`, { skip }, () => {
    let t: TestServer;
    let admin: string;
    let activate: string;
    const { register } = useApiServer(backend, (s) => ({ t, admin, activate } = s));

    const put = (name: string, body: object, token = activate) => api(t, 'PUT', `/api/v1/secrets/${name}`, { token, body });
    const deployment = async (id: string): Promise<Deployment> => (await api(t, 'GET', `/api/v1/deployments/${id}`, { token: activate })).json;

    /** An online agent with a recipient and a current path (its first deployment Succeeded). */
    async function deployedAgent(prefix: string): Promise<{ name: string; recipient: string; socket: AgentSocket; path: string }> {
      const name = unique(prefix);
      const r = recipient();
      const token = (await t.mint('agent', { agent: name })).token;
      const { socket } = await register(token, name, { recipient: r });
      const path = storePath(`${name}-system`);
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [name]: path } } });
      assert.equal(res.status, 201, res.text);
      const order = await socket.next('deploy');
      assert.deepEqual(order.deployment.secrets, [], 'an order holds the complete set, here empty');
      socket.send({ type: 'deployment.finished', id: order.deployment.id, time: nowIso(), status: 'Succeeded', reason: null, activePath: path });
      await socket.next('deployment.ack');
      return { name, recipient: r, socket, path };
    }

    /** Finishes a secrets-only deployment the way an agent does. */
    async function finish(socket: AgentSocket, id: string, path: string): Promise<void> {
      socket.send({ type: 'deployment.finished', id, time: nowIso(), status: 'Succeeded', reason: null, activePath: path });
      await socket.next('deployment.ack');
    }

    test('the agents API shows the recipient of the hello; an older agent without one shows null', async () => {
      const a = await deployedAgent('rcpt');
      const shown = (await api(t, 'GET', `/api/v1/agents/${a.name}`, { token: activate })).json;
      assert.equal(shown.recipient, a.recipient);
      const old = unique('rcpt-old');
      await register((await t.mint('agent', { agent: old })).token, old);
      assert.equal((await api(t, 'GET', `/api/v1/agents/${old}`, { token: activate })).json.recipient, null);
    });

    test('set: stored as sent, shown without ciphertext; one secrets-only deployment with the complete set; change bumps the version; rm empties the set', async () => {
      const a = await deployedAgent('set');
      const ciphertext = ageFile(1);
      const res = await put('db-password', {
        targets: [{ agent: a.name, recipient: a.recipient }],
        ciphertext,
        owner: 'postgres',
        group: 'postgres',
        mode: 0o440,
      });
      assert.equal(res.status, 200, res.text);
      assert.ok(!res.text.includes(ciphertext.slice(0, 40)), 'the answer carries no ciphertext');
      const s = res.json.secret;
      assert.deepEqual(
        { name: s.name, path: s.path, owner: s.owner, group: s.group, mode: s.mode, version: s.version, targets: s.targets },
        {
          name: 'db-password',
          path: '/run/drover/secrets/db-password',
          owner: 'postgres',
          group: 'postgres',
          mode: 0o440,
          version: 1,
          targets: [{ agent: a.name, recipientChanged: false }],
        },
      );
      assert.deepEqual(s.createdBy, { kind: 'token', id: s.createdBy.id, label: s.createdBy.label });
      assert.equal(s.size, Buffer.from(ciphertext, 'base64').length);
      const [queued] = res.json.deployments as Deployment[];
      assert.ok(queued, res.text);
      assert.equal(queued.secretsOnly, true);
      assert.equal(queued.storePath, a.path, "a secrets-only deployment's path is the agent's current one");
      assert.deepEqual(res.json.withNextDeployment, []);

      const order = await a.socket.next('deploy');
      assert.equal(order.deployment.id, queued.id);
      assert.equal(order.deployment.secretsOnly, true);
      assert.equal(order.deployment.wantDiff, undefined, 'no closure diff for a secrets-only deployment');
      assert.deepEqual(order.deployment.secrets, [
        { name: 'db-password', path: '/run/drover/secrets/db-password', owner: 'postgres', group: 'postgres', mode: 0o440, version: 1, ciphertext },
      ] satisfies SecretOrder[]);
      const row = await t.db.selectFrom('secrets').selectAll().where('name', '=', 'db-password').executeTakeFirstOrThrow();
      assert.equal(row.ciphertext, ciphertext, 'the database holds the ciphertext as sent');
      await finish(a.socket, queued.id, a.path);
      const agent = (await api(t, 'GET', `/api/v1/agents/${a.name}`, { token: activate })).json;
      assert.notEqual(agent.lastDeployment.id, queued.id, 'a secrets-only deployment never becomes the latest');
      assert.equal(agent.currentStorePath, a.path);

      const list = await api(t, 'GET', '/api/v1/secrets', { token: activate });
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.json.secrets.map((x: { name: string }) => x.name),
        ['db-password'],
      );
      assert.ok(!list.text.includes(ciphertext.slice(0, 40)));

      const second = ageFile(1);
      const changed = await put('db-password', { targets: [{ agent: a.name, recipient: a.recipient }], ciphertext: second });
      assert.equal(changed.json.secret.version, 2);
      assert.equal(changed.json.secret.mode, 0o400, 'fields not sent take their defaults again');
      const order2 = await a.socket.next('deploy');
      const [rotated] = order2.deployment.secrets ?? [];
      assert.ok(rotated);
      assert.equal(rotated.version, 2);
      assert.equal(rotated.ciphertext, second);
      await finish(a.socket, order2.deployment.id, a.path);

      const removed = await api(t, 'DELETE', '/api/v1/secrets/db-password', { token: activate });
      assert.equal(removed.status, 200, removed.text);
      const order3 = await a.socket.next('deploy');
      assert.equal(order3.deployment.secretsOnly, true);
      assert.deepEqual(order3.deployment.secrets, [], 'after a removal the set is empty: the agent deletes the file');
      await finish(a.socket, order3.deployment.id, a.path);
      assertError(await api(t, 'GET', '/api/v1/secrets/db-password', { token: activate }), 'DROVER_ERR_SECRET_NOT_FOUND');
      assertError(await api(t, 'DELETE', '/api/v1/secrets/db-password', { token: activate }), 'DROVER_ERR_SECRET_NOT_FOUND');
      assert.equal((await t.db.selectFrom('secret_targets').selectAll().execute()).filter((r) => r.recipient === a.recipient).length, 0);
    });

    test('only targeted agents get a secret; a Pending real deployment carries the set (no secrets-only one); deploy:false queues nothing', async () => {
      const a = await deployedAgent('tgt-a');
      const b = await deployedAgent('tgt-b');
      const ciphertext = ageFile(1);
      const res = await put(unique('only-a'), { targets: [{ agent: a.name, recipient: a.recipient }], ciphertext });
      assert.equal(res.status, 200, res.text);
      const orderA = await a.socket.next('deploy');
      await finish(a.socket, orderA.deployment.id, a.path);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(
        b.socket.pending().filter((m) => m.type === 'deploy'),
        [],
        'the untargeted agent got no order',
      );

      // b goes offline with a real deployment Pending: a secret set for it is carried by that deployment.
      b.socket.close();
      await new Promise((r) => setTimeout(r, 100));
      const next = storePath(`${b.name}-next`);
      const real = (await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [b.name]: next } } })).json.agents[b.name];
      const name = unique('carried');
      const carried = await put(name, { targets: [{ agent: b.name, recipient: b.recipient }], ciphertext: ageFile(1) });
      assert.deepEqual(carried.json.deployments, []);
      assert.deepEqual(carried.json.withNextDeployment, [b.name]);
      assert.equal((await deployment(real.id)).status, 'Pending');
      const again = await register((await t.mint('agent', { agent: b.name })).token, b.name, { recipient: b.recipient });
      const order = await again.socket.next('deploy');
      assert.equal(order.deployment.id, real.id);
      assert.equal(order.deployment.secretsOnly, undefined);
      assert.deepEqual(
        order.deployment.secrets?.map((s) => s.name),
        [name],
      );
      await finish(again.socket, real.id, next);

      const quiet = await put(unique('quiet'), { targets: [{ agent: a.name, recipient: a.recipient }], ciphertext: ageFile(1), deploy: false });
      assert.deepEqual(quiet.json.deployments, []);
      assert.deepEqual(quiet.json.withNextDeployment, [a.name]);
    });

    test('a real deployment supersedes a Pending secrets-only one; a secrets-only one never supersedes a real one', async () => {
      const a = await deployedAgent('sup');
      a.socket.close();
      await new Promise((r) => setTimeout(r, 100));
      const first = await put(unique('sup'), { targets: [{ agent: a.name, recipient: a.recipient }], ciphertext: ageFile(1) });
      const secretsOnly = (first.json.deployments as Deployment[])[0];
      assert.ok(secretsOnly);
      const real = (await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { [a.name]: storePath('sup-next') } } })).json.agents[a.name];
      assert.equal((await deployment(secretsOnly.id)).status, 'Superseded');
      await put(unique('sup2'), { targets: [{ agent: a.name, recipient: a.recipient }], ciphertext: ageFile(1) });
      assert.equal((await deployment(real.id)).status, 'Pending', 'the real deployment stays: it carries the set');
    });

    test("a re-run of a secrets-only deployment is secrets-only, on the agent's current path, with today's set", async () => {
      const a = await deployedAgent('rerun');
      const name = unique('rerun');
      const first = (await put(name, { targets: [{ agent: a.name, recipient: a.recipient }], ciphertext: ageFile(1) })).json.deployments[0] as Deployment;
      await a.socket.next('deploy');
      await finish(a.socket, first.id, a.path);
      const latest = ageFile(1);
      await put(name, { targets: [{ agent: a.name, recipient: a.recipient }], ciphertext: latest, deploy: false });
      const res = await api(t, 'POST', `/api/v1/deployments/${first.id}/rerun`, { token: activate });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.json.secretsOnly, true);
      assert.equal(res.json.storePath, a.path);
      const order = await a.socket.next('deploy');
      assert.equal(order.deployment.secretsOnly, true);
      assert.equal(order.deployment.secrets?.[0]?.ciphertext, latest);
      await finish(a.socket, order.deployment.id, a.path);
    });

    test('refusals name the agent or field and store nothing', async () => {
      const a = await deployedAgent('bad');
      const ok = { targets: [{ agent: a.name, recipient: a.recipient }], ciphertext: ageFile(1) };
      const none = unique('bad-none');
      await register((await t.mint('agent', { agent: none })).token, none);
      assertError(
        await put('x', { ...ok, targets: [{ agent: none, recipient: recipient() }] }),
        'DROVER_ERR_NO_RECIPIENT',
        new RegExp(`agent ${none} has no age recipient`),
      );
      assertError(await put('x', { ...ok, targets: [{ agent: a.name, recipient: recipient() }] }), 'DROVER_ERR_RECIPIENT_CHANGED', new RegExp(a.name));
      assertError(await put('x', { ...ok, targets: [{ agent: 'nobody-here', recipient: recipient() }] }), 'DROVER_ERR_AGENT_NOT_FOUND', /nobody-here/);
      assertError(
        await put('x', { ...ok, ciphertext: Buffer.from('hunter2 in plain text').toString('base64') }),
        'DROVER_ERR_INVALID_SECRET',
        /not an age file/,
      );
      assertError(await put('x', { ...ok, ciphertext: 'not base64!' }), 'DROVER_ERR_INVALID_SECRET', /not base64/);
      const armored = Buffer.from('-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n').toString('base64');
      assertError(await put('x', { ...ok, ciphertext: armored }), 'DROVER_ERR_INVALID_SECRET', /armored/);
      const two = unique('bad-two');
      const twoRcpt = recipient();
      await register((await t.mint('agent', { agent: two })).token, two, { recipient: twoRcpt });
      assertError(
        await put('x', { ...ok, targets: [...ok.targets, { agent: two, recipient: twoRcpt }] }),
        'DROVER_ERR_INVALID_SECRET',
        /encrypted to 1 X25519 recipient\(s\), fewer than the 2/,
      );
      assertError(await put('.hidden', ok), 'DROVER_ERR_INVALID_SECRET', /secret name/);
      assertError(await put('x', { ...ok, path: 'relative/file' }), 'DROVER_ERR_INVALID_SECRET', /must be absolute/);
      assertError(await put('x', { ...ok, path: '/run/../etc/shadow' }), 'DROVER_ERR_INVALID_SECRET', /must be absolute/);
      assertError(await put('x', { ...ok, owner: 'Bad User' }), 'DROVER_ERR_INVALID_SECRET', /owner/);
      const body = await put('x', { ...ok, mode: 0o10000 });
      assert.equal(body.status, 400, body.text);
      for (const chars of [MAX_SECRET_CIPHERTEXT_CHARS + 4, 4 * MAX_SECRET_CIPHERTEXT_CHARS]) {
        assertError(
          await put('x', { ...ok, ciphertext: 'A'.repeat(chars) }),
          'DROVER_ERR_SECRET_LIMIT',
          new RegExp(`ciphertext is ${chars} base64 characters, over the limit`),
        );
      }
      const several = await put('x', {
        targets: [
          { agent: 'nobody-1', recipient: recipient() },
          { agent: none, recipient: recipient() },
        ],
        ciphertext: 'zz',
      });
      assert.equal(several.json.details.length, 3, several.text);
      assert.equal((await api(t, 'GET', '/api/v1/secrets/x', { token: activate })).status, 404, 'nothing was stored');
    });

    test('per-agent limits: one path per agent, and the whole set within the deploy frame', async () => {
      const a = await deployedAgent('lim');
      const target = { targets: [{ agent: a.name, recipient: a.recipient }] };
      const first = unique('lim-a');
      assert.equal((await put(first, { ...target, ciphertext: ageFile(1), path: '/etc/app/key', deploy: false })).status, 200);
      assertError(
        await put(unique('lim-b'), { ...target, ciphertext: ageFile(1), path: '/etc/app/key' }),
        'DROVER_ERR_SECRET_PATH_CONFLICT',
        new RegExp(`${a.name} already receives secret ${first}`),
      );
      assert.equal(
        (await put(first, { ...target, ciphertext: ageFile(1), path: '/etc/app/key', deploy: false })).status,
        200,
        'the same secret may keep its path',
      );
      // ~190 KB of base64 each: four fit in the frame's budget, the fifth does not.
      const large = () => ageFile(1, 140 * 1024);
      for (let i = 0; i < 4; i++) assert.equal((await put(unique(`lim-big${i}`), { ...target, ciphertext: large(), deploy: false })).status, 200);
      const over = await put(unique('lim-over'), { ...target, ciphertext: large() });
      assertError(over, 'DROVER_ERR_SECRET_LIMIT', new RegExp(`agent ${a.name}'s secrets would take \\d+ bytes of its deploy frame`));
      // The order with everything fits in a frame and decodes on the agent side (the fake agent decodes every frame).
      await api(t, 'POST', `/api/v1/agents/${a.name}/redeploy`, { token: activate });
      const order = await a.socket.next('deploy');
      assert.equal(order.deployment.secrets?.length, 5);
      assert.deepEqual(a.socket.undecodable, []);
    });

    test("secrets belong to their workspace: another workspace's token neither sees nor reaches them; deleting the workspace deletes them", async () => {
      const other = await createWorkspace(t.db, unique('sec-ws'));
      const otherAdmin = (await t.mint('admin', { workspaceId: other.id })).token;
      const name = unique('ws-agent');
      const r = recipient();
      await register((await t.mint('agent', { agent: name, workspaceId: other.id })).token, name, { recipient: r });
      const secret = unique('ws-secret');
      const res = await put(secret, { targets: [{ agent: name, recipient: r }], ciphertext: ageFile(1), deploy: false }, otherAdmin);
      assert.equal(res.status, 200, res.text);
      assertError(await api(t, 'GET', `/api/v1/secrets/${secret}`, { token: activate }), 'DROVER_ERR_SECRET_NOT_FOUND');
      assertError(await put(secret, { targets: [{ agent: name, recipient: r }], ciphertext: ageFile(1) }), 'DROVER_ERR_AGENT_NOT_FOUND');
      const gone = await api(t, 'DELETE', `/api/v1/workspaces/${other.name}?confirm=${other.name}`, { token: otherAdmin });
      assert.equal(gone.status, 204, gone.text);
      assert.equal((await t.db.selectFrom('secrets').select('id').where('workspace_id', '=', other.id).execute()).length, 0);
      assert.equal((await t.db.selectFrom('secret_targets').select('agent_id').where('recipient', '=', r).execute()).length, 0);
    });

    test(`at most ${MAX_SECRETS_PER_AGENT} secrets per agent`, async () => {
      const a = await deployedAgent('count');
      const target = { targets: [{ agent: a.name, recipient: a.recipient }], deploy: false };
      for (let i = 0; i < MAX_SECRETS_PER_AGENT; i++) {
        const res = await put(`${a.name}-${i}`, { ...target, ciphertext: ageFile(1) });
        assert.equal(res.status, 200, res.text);
      }
      assertError(
        await put(`${a.name}-over`, { ...target, ciphertext: ageFile(1) }),
        'DROVER_ERR_SECRET_LIMIT',
        new RegExp(`agent ${a.name} would receive ${MAX_SECRETS_PER_AGENT + 1} secrets, over the limit of ${MAX_SECRETS_PER_AGENT}`),
      );
      assert.equal((await put(`${a.name}-0`, { ...target, ciphertext: ageFile(1) })).status, 200, 'changing one it has is fine');
    });

    test('viewers see names and targets, never ciphertext, and cannot set or remove; deployers can', async () => {
      const a = await deployedAgent('role');
      const ciphertext = ageFile(1);
      const name = unique('role');
      assert.equal((await put(name, { targets: [{ agent: a.name, recipient: a.recipient }], ciphertext, deploy: false }, admin)).status, 200);
      const as: Record<string, { cookie: string; csrf: string }> = {};
      for (const [user, role] of [
        [unique('vic'), 'viewer'],
        [unique('dora'), 'deployer'],
      ] as const) {
        await createUser(t.db, { name: user, password: 'correct horse battery', grant: { role, workspace: 'default' } });
        const res = await api(t, 'POST', '/api/v1/session', { body: { name: user, password: 'correct horse battery' } });
        as[role] = { cookie: String(res.headers['set-cookie']).split(';')[0] ?? '', csrf: res.json.csrfToken };
      }
      const call = (role: string, method: 'GET' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
        const who = as[role];
        assert.ok(who);
        return api(t, method, url, { body, headers: { cookie: who.cookie, [CSRF_HEADER]: who.csrf } });
      };
      const seen = await call('viewer', 'GET', '/api/v1/workspaces/default/secrets');
      assert.equal(seen.status, 200, seen.text);
      const mine = seen.json.secrets.find((s: { name: string }) => s.name === name);
      assert.deepEqual(mine.targets, [{ agent: a.name, recipientChanged: false }]);
      assert.ok(!seen.text.includes(ciphertext.slice(0, 40)) && !seen.text.includes('ciphertext'), 'no ciphertext for viewers');
      const one = await call('viewer', 'GET', `/api/v1/workspaces/default/secrets/${name}`);
      assert.equal(one.status, 200);
      assert.ok(!one.text.includes(ciphertext.slice(0, 40)));
      const body = { targets: [{ agent: a.name, recipient: a.recipient }], ciphertext: ageFile(1), deploy: false };
      assertError(await call('viewer', 'PUT', `/api/v1/workspaces/default/secrets/${name}`, body), 'DROVER_ERR_ROLE');
      assertError(await call('viewer', 'DELETE', `/api/v1/workspaces/default/secrets/${name}`), 'DROVER_ERR_ROLE');
      const byDeployer = await call('deployer', 'PUT', `/api/v1/workspaces/default/secrets/${name}`, body);
      assert.equal(byDeployer.status, 200, byDeployer.text);
      assert.equal(byDeployer.json.secret.updatedBy.kind, 'user');
      assert.equal((await call('deployer', 'DELETE', `/api/v1/workspaces/default/secrets/${name}?deploy=false`)).status, 200);
      // An agent whose identity was re-created: the secret is flagged for it.
      const flagged = unique('flag');
      await put(flagged, { targets: [{ agent: a.name, recipient: a.recipient }], ciphertext: ageFile(1), deploy: false });
      a.socket.close();
      const again = await register((await t.mint('agent', { agent: a.name })).token, a.name, { recipient: recipient() });
      again.socket.close();
      const after = (await api(t, 'GET', `/api/v1/secrets/${flagged}`, { token: activate })).json;
      assert.deepEqual(after.targets, [{ agent: a.name, recipientChanged: true }]);
    });
  });
}
