/**
 * The server as a whole, over SQLite and PostgreSQL (each suite its own server
 * on 127.0.0.1:0): health through inject and the listening socket, a second
 * Drover schema in the same PostgreSQL database, unknown routes (404) and the
 * OpenAPI document.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, useApiServer } from './api-suite.js';
import { api, backendCases, startTestServer, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`the server over ${backend}`, { skip }, () => {
    let t: TestServer;
    let admin: string;
    useApiServer(backend, (s) => ({ t, admin } = s));

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
}
