/**
 * Every registered route declares its authorization (`config.access`, see
 * src/http/access.ts), and a route that forgets cannot be registered at all.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { installAccess } from '../src/http/access.js';
import { startTestServer } from './support.js';

describe('route authorization declarations', () => {
  test('every route of the app declares its access, the workspace routes are mounted at both prefixes, and a route without one is refused', async () => {
    const t = await startTestServer('sqlite');
    try {
      const routes = t.server.app.routeAccess;
      assert.ok(routes.length > 40, `found only ${routes.length} routes`);
      for (const r of routes) assert.ok(r.access.kind, `${r.method} ${r.url} declares no access`);
      const find = (method: string, url: string) => routes.find((r) => r.method === method && r.url === url)?.access;
      assert.deepEqual(find('POST', '/api/v1/activate'), { kind: 'workspace', action: 'deploy' });
      assert.deepEqual(find('POST', '/api/v1/workspaces/:workspace/activate'), { kind: 'workspace', action: 'deploy' });
      assert.deepEqual(find('GET', '/api/v1/workspace'), { kind: 'workspace', action: 'read' });
      assert.deepEqual(find('GET', '/api/v1/workspaces/:workspace'), { kind: 'workspace', action: 'read' });
      assert.deepEqual(find('GET', '/api/v1/agent/ws'), { kind: 'token', action: 'agent' });
      assert.deepEqual(find('PUT', '/cache/:name/nar/:file'), { kind: 'cache', action: 'cache-push' });
      assert.deepEqual(find('GET', '/api/v1/health'), { kind: 'public' });
      // A route that forgets cannot be registered.
      const bare = Fastify();
      installAccess(bare, t.server.context);
      assert.throws(() => bare.get('/forgot', async () => 'no declaration'), /route GET \/forgot declares no access/);
      await bare.close();
    } finally {
      await t.close();
    }
  });
});
