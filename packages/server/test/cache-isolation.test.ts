/**
 * NAR files are shared by every cache, but a cache only sees the NARs it
 * serves or was sent (issue 12 #7): a push token of another workspace — or of
 * another cache of the same workspace — can neither learn that a private NAR
 * exists (HEAD/GET answer as for a NAR that does not exist) nor publish it by
 * naming it in a narinfo. Sending the same bytes still deduplicates.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createWorkspace } from '../src/workspaces/repository.js';
import { fakePath, fetchCache, narinfoOf, putNar, putNarinfo, pushBatch, batchBody, type FakePath } from './cache-support.js';
import { backendCases, startTestServer, type TestServer } from './support.js';

for (const { backend, skip } of await backendCases()) {
  describe(`cache isolation between caches and workspaces (${backend})`, { skip }, () => {
    let t: TestServer;
    let pushA: string;
    let pushB: string;
    let secret: FakePath;
    const nowhere = fakePath('never-uploaded');

    before(async () => {
      t = await startTestServer(backend, { schemaPrefix: 'drover_cache_iso_' });
      const b = await createWorkspace(t.db, 'other');
      await t.server.context.cache.createCache(t.defaultWorkspaceId, 'a-private');
      await t.server.context.cache.createCache(t.defaultWorkspaceId, 'a-second');
      await t.server.context.cache.createCache(b.id, 'b-public', { public: true });
      pushA = (await t.mint('push')).token;
      pushB = (await t.mint('push', { workspaceId: b.id })).token;
      secret = fakePath('secret');
      assert.equal((await putNar(t, 'a-private', secret, pushA)).status, 204);
      assert.equal((await putNarinfo(t, 'a-private', secret, pushA)).status, 204);
    });
    after(async () => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- t is still unset here when before() failed
      await t?.close();
    });

    test('HEAD and GET of another cache’s NAR answer exactly as for a NAR that does not exist', async () => {
      assert.equal((await fetchCache(t, 'HEAD', `/cache/a-private/nar/${secret.file}`, pushA)).status, 200, 'the owner sees it');
      for (const [cache, token] of [
        ['b-public', pushB],
        ['b-public', undefined],
        ['a-second', pushA],
      ] as const) {
        for (const method of ['HEAD', 'GET'] as const) {
          const theirs = await fetchCache(t, method, `/cache/${cache}/nar/${secret.file}`, token);
          const missing = await fetchCache(t, method, `/cache/${cache}/nar/${nowhere.file}`, token);
          assert.equal(theirs.status, 404, `${method} ${cache} (${token ? 'token' : 'anonymous'})`);
          assert.equal(
            theirs.body.replace(secret.file, 'FILE'),
            missing.body.replace(nowhere.file, 'FILE'),
            `${method} ${cache}: same answer as a missing NAR`,
          );
        }
      }
    });

    test('a narinfo naming another cache’s NAR is refused as one naming a missing NAR, and nothing is published', async () => {
      for (const [cache, token] of [
        ['b-public', pushB],
        ['a-second', pushA],
      ] as const) {
        const stolen = await putNarinfo(t, cache, secret, token);
        const missing = await putNarinfo(t, cache, nowhere, token);
        assert.equal(stolen.status, 409, `${cache}: ${stolen.text}`);
        assert.equal(stolen.json.code, 'DROVER_ERR_NAR_MISSING');
        assert.equal(stolen.json.code, missing.json.code);
        assert.equal(
          stolen.json.message.replace(secret.file, 'FILE').replace(secret.storePath, 'PATH'),
          missing.json.message.replace(nowhere.file, 'FILE').replace(nowhere.storePath, 'PATH'),
        );
        assert.equal((await fetchCache(t, 'GET', `/cache/${cache}/${secret.hash}.narinfo`, token)).status, 404);
      }
      assert.equal((await fetchCache(t, 'GET', `/cache/b-public/nar/${secret.file}`)).status, 404, 'not downloadable anonymously');
    });

    test('sending the same bytes to another cache deduplicates them; that cache then serves the NAR', async () => {
      const shared = fakePath('shared');
      assert.equal((await putNar(t, 'a-private', shared, pushA)).status, 204);
      assert.equal((await fetchCache(t, 'HEAD', `/cache/b-public/nar/${shared.file}`, pushB)).status, 404);
      assert.equal((await putNar(t, 'b-public', shared, pushB)).status, 204);
      assert.equal((await fetchCache(t, 'HEAD', `/cache/b-public/nar/${shared.file}`, pushB)).status, 200, 'sent to this cache: nix copy may skip it');
      assert.equal((await putNarinfo(t, 'b-public', shared, pushB)).status, 204);
      const got = await fetchCache(t, 'GET', `/cache/b-public/nar/${shared.file}`);
      assert.equal(got.status, 200);
      assert.ok(got.bytes.equals(shared.bytes), 'the bytes sent');
      // A second path with the same NAR uses the one the cache serves, without sending it again.
      const twin = fakePath('twin', shared.bytes);
      assert.equal((await putNarinfo(t, 'b-public', twin, pushB, narinfoOf(twin))).status, 204);
    });

    test('drover push sends the bytes with the path, so it is unaffected', async () => {
      const p = fakePath('pushed');
      assert.equal((await pushBatch(t, 'b-public', batchBody([{ path: p }]), pushB)).status, 204);
      assert.equal((await fetchCache(t, 'GET', `/cache/b-public/${p.hash}.narinfo`)).status, 200);
    });
  });
}
