/**
 * The deployments list filtered by part of an agent's name (`agentContains`)
 * and by part of a store path (`path`), case-insensitively and with LIKE's
 * wildcards taken literally, paged with the matching total, on SQLite and
 * PostgreSQL.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useApiServer } from './api-suite.js';
import { api, backendCases, storePath, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`deployment list filters over ${backend}`, { skip }, () => {
    let t: TestServer;
    let activate: string;
    const { register } = useApiServer(backend, (s) => ({ t, activate } = s));
    const web = storePath('nixos-system-web');
    const db = storePath('nixos-system-db');

    const list = async (query: string) => {
      const res = await api(t, 'GET', `/api/v1/deployments?${query}`, { token: activate });
      assert.equal(res.status, 200, res.text);
      return {
        names: (res.json.deployments as { agent: string; storePath: string }[]).map((d) => `${d.agent} ${d.storePath === web ? 'web' : 'db'}`),
        total: res.json.total as number,
      };
    };

    test('set up: web-1, web-2, db-1 and a-b with one or two deployments each', async () => {
      for (const name of ['web-1', 'web-2', 'db-1', 'a-b']) await register((await t.mint('agent', { agent: name })).token, name);
      const first = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { 'web-1': web, 'web-2': web, 'db-1': db, 'a-b': db } } });
      assert.equal(first.status, 201, first.text);
      const second = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { 'web-1': db } } });
      assert.equal(second.status, 201, second.text);
    });

    test('agentContains matches part of the name, case-insensitively', async () => {
      assert.deepEqual((await list('agentContains=web')).names.sort(), ['web-1 db', 'web-1 web', 'web-2 web']);
      assert.deepEqual((await list('agentContains=EB-2')).names, ['web-2 web']);
      assert.equal((await list('agentContains=web')).total, 3);
      assert.equal((await list('agentContains=nobody')).total, 0);
    });

    test('path matches part of the store path: a name or the hash', async () => {
      assert.deepEqual((await list('path=system-db')).names.sort(), ['a-b db', 'db-1 db', 'web-1 db']);
      const hash = db.slice('/nix/store/'.length, '/nix/store/'.length + 7);
      assert.equal((await list(`path=${hash}`)).total, 3);
      assert.equal((await list(`path=${encodeURIComponent(web)}`)).total, 2);
    });

    test('both together, and with paging the total counts every match', async () => {
      assert.deepEqual((await list('agentContains=web-1&path=system-db')).names, ['web-1 db']);
      const page = await list('path=nixos-system&limit=2&offset=0');
      assert.equal(page.names.length, 2);
      assert.equal(page.total, 5);
    });

    test('% and _ are literal, not wildcards', async () => {
      assert.equal((await list('agentContains=%25')).total, 0);
      assert.equal((await list('agentContains=a_b')).total, 0);
      assert.equal((await list('agentContains=a-b')).total, 1);
      assert.equal((await list(`agentContains=${encodeURIComponent('\\')}`)).total, 0);
    });
  });
}
