/**
 * Token administration over SQLite and PostgreSQL: create, list (never the
 * secret or its hash) and revoke; last-use times; unknown and invalid
 * requests; the tokens of one workspace invisible to another.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseToken } from '@drover/protocol';
import { createWorkspace } from '../src/workspaces/repository.js';
import { assertError, unique, useApiServer } from './api-suite.js';
import { api, backendCases, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`tokens over ${backend}`, { skip }, () => {
    let t: TestServer;
    let admin: string;
    useApiServer(backend, (s) => ({ t, admin } = s));

    test('create, list (never the secret or its hash), revoke', async () => {
      const created = await api(t, 'POST', '/api/v1/tokens', { token: admin, body: { kind: 'agent', agent: 'tok-agent', description: 'for tok-agent' } });
      assert.equal(created.status, 201, created.text);
      const parsed = parseToken(created.json.token);
      assert.ok(parsed, 'a well-formed token');
      assert.equal(parsed.kind, 'agent');
      assert.deepEqual(
        { ...created.json.info, createdAt: undefined },
        {
          id: parsed.id,
          kind: 'agent',
          workspace: 'default',
          agent: 'tok-agent',
          agentBinding: 'bound',
          description: 'for tok-agent',
          createdAt: undefined,
          lastUsedAt: null,
          revokedAt: null,
        },
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
        assert.deepEqual(Object.keys(entry).sort(), [
          'agent',
          'agentBinding',
          'createdAt',
          'description',
          'id',
          'kind',
          'lastUsedAt',
          'revokedAt',
          'workspace',
        ]);
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
      const find = async () => (await api(t, 'GET', '/api/v1/tokens', { token: admin })).json.tokens.find((x: { id: string }) => x.id === minted.id);
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
}
