/**
 * The built-in cache handed to Cachix agents (`cachix_cache = "builtin"`):
 * AgentRegistered names it with its public key, requests to
 * `NAME.<public host>` are served as `/cache/NAME/…` with the agent's token
 * as a netrc password, and narinfo signatures carry the key name
 * `NAME.<public host>-1` the Cachix agent trusts — the same signature bytes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { cachixCacheSetting } from '../src/cachix/cache.js';
import { fakePath, putNar, putNarinfo } from './cache-support.js';
import { backendCases, startTestServer, type TestServer } from './support.js';

const basic = (token: string) => ({ authorization: `Basic ${Buffer.from(`:${token}`).toString('base64')}` });

function firstFrame(url: string, headers: Record<string, string>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const timer = setTimeout(() => reject(new Error('no frame within 10 s')), 10_000);
    ws.once('message', (data: Buffer) => {
      clearTimeout(timer);
      ws.close();
      resolve(JSON.parse(data.toString('utf8')));
    });
    ws.once('error', reject);
  });
}

for (const { backend, skip } of await backendCases()) {
  describe(`the built-in cache for Cachix agents (${backend})`, { skip }, () => {
    let t: TestServer;
    let agentToken: string;
    const path = fakePath('cachix-served');

    before(async () => {
      t = await startTestServer(backend, { schemaPrefix: 'drover_cachix_cache_', server: { cachixCache: 'builtin', publicUrl: 'https://deploy.test' } });
      await t.server.context.cache.createCache(t.defaultWorkspaceId, 'main');
      const push = (await t.mint('push')).token;
      assert.equal((await putNar(t, 'main', path, push)).status, 204);
      assert.equal((await putNarinfo(t, 'main', path, push)).status, 204);
      agentToken = (await t.mint('agent', { agent: 'web-1' })).token;
    });
    after(async () => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- t is still unset here when before() failed
      await t?.close();
    });

    test('AgentRegistered names the workspace’s built-in cache and its bare public key', async () => {
      const frame = (await firstFrame(`${t.url.replace(/^http/, 'ws')}/ws`, {
        authorization: `Bearer ${agentToken}`,
        name: 'web-1',
        version: '1.11.1',
        system: 'x86_64-linux',
      })) as { method: string; command: { contents: { cache: unknown } } };
      assert.equal(frame.method, 'AgentRegistered');
      const [row] = await t.server.context.cache.listCaches(t.defaultWorkspaceId);
      assert.ok(row);
      assert.deepEqual(frame.command.contents.cache, { cacheName: 'main', publicKey: row.public_key.split(':')[1], isPublic: false });
    });

    test('NAME.HOST serves the cache with the agent token as netrc password, signatures under NAME.HOST-1', async () => {
      const plain = await t.server.app.inject({ method: 'GET', url: `/cache/main/${path.hash}.narinfo`, headers: basic(agentToken) });
      assert.equal(plain.statusCode, 200, plain.body);
      const sig = /^Sig: ([^:\n]+):(\S+)$/m.exec(plain.body);
      assert.ok(sig, plain.body);
      const viaHost = await t.server.app.inject({ method: 'GET', url: `/${path.hash}.narinfo`, headers: { host: 'main.deploy.test', ...basic(agentToken) } });
      assert.equal(viaHost.statusCode, 200, viaHost.body);
      assert.match(viaHost.body, new RegExp(`^Sig: main\\.deploy\\.test-1:${sig[2]!.replace(/[+/]/g, '\\$&')}$`, 'm'));
      assert.equal(viaHost.body.replace(/^Sig: .*$/m, ''), plain.body.replace(/^Sig: .*$/m, ''), 'nothing else changes');
      const info = await t.server.app.inject({ method: 'GET', url: '/nix-cache-info', headers: { host: 'main.deploy.test:443', ...basic(agentToken) } });
      assert.equal(info.statusCode, 200);
      assert.match(info.body, /StoreDir: \/nix\/store/);
      const nar = await t.server.app.inject({ method: 'GET', url: `/nar/${path.file}`, headers: { host: 'main.deploy.test', ...basic(agentToken) } });
      assert.equal(nar.statusCode, 200);
      assert.deepEqual(nar.rawPayload, path.bytes);
    });

    test('the private cache still needs a token; other hosts are not rewritten; the setting is checked', async () => {
      const anonymous = await t.server.app.inject({ method: 'GET', url: `/${path.hash}.narinfo`, headers: { host: 'main.deploy.test' } });
      assert.equal(anonymous.statusCode, 401);
      const elsewhere = await t.server.app.inject({ method: 'GET', url: `/${path.hash}.narinfo`, headers: { host: 'main.other.test', ...basic(agentToken) } });
      assert.notEqual(elsewhere.statusCode, 200);
      const api = await t.server.app.inject({ method: 'GET', url: '/api/v1/health', headers: { host: 'deploy.test' } });
      assert.equal(api.statusCode, 200);
      assert.throws(() => cachixCacheSetting('yes'), /cachix_cache must be "none" or "builtin"/);
      assert.equal(cachixCacheSetting(undefined), 'none');
    });
  });
}
