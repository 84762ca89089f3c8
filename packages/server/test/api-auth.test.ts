/**
 * Authentication over SQLite and PostgreSQL: no token, malformed, unknown,
 * wrong secret or kind (401 DROVER_ERR_UNAUTHORIZED), revoked (401
 * DROVER_ERR_TOKEN_REVOKED), and token kinds that may not do something (403
 * DROVER_ERR_FORBIDDEN).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseToken } from '@drover/protocol';
import { assertError, useApiServer } from './api-suite.js';
import { api, backendCases, storePath, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`authentication over ${backend}`, { skip }, () => {
    let t: TestServer;
    let admin: string;
    let activate: string;
    useApiServer(backend, (s) => ({ t, admin, activate } = s));

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
}
