/**
 * Every narinfo field an uploader chooses is validated by one rule in every
 * upload API (issue 12 #12): a newline or control character in Deriver, CA,
 * References or Sig never reaches the signed narinfo, CA takes only Nix's
 * forms, and a refused upload leaves nothing — so the next valid upload of the
 * same path is the one served. A poisoned narinfo stored before these rules
 * is replaced by the next valid upload instead of sticking.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateSigningKey, parseNixHash, signNarinfo, toNixBase32 } from '@drover/nix';
import { NIX_BASE32_ALPHABET } from '@drover/protocol';
import { upsertPath } from '../src/cache/paths-repository.js';
import { batchBody, bearer, fakePath, fetchCache, narinfoOf, pathInfoOf, pushBatch, putNar, putNarinfo, type FakePath } from './cache-support.js';
import { api, backendCases, nowIso, startTestServer, type TestServer } from './support.js';

const CACHE = 'fields';
const hash32 = () => [...randomBytes(32)].map((b) => NIX_BASE32_ALPHABET[b % 32]).join('');
const validDeriver = () => `${hash32()}-thing.drv`;
const validCa = () => `fixed:r:sha256:${toNixBase32(randomBytes(32))}`;

/** The lines of a served narinfo with this key. */
const lines = (narinfo: string, key: string) => narinfo.split('\n').filter((l) => l.startsWith(`${key}: `));

for (const { backend, skip } of await backendCases()) {
  describe(`narinfo fields are validated in every upload API (${backend})`, { skip }, () => {
    let t: TestServer;
    let push: string;
    const signer = generateSigningKey('ci-1');

    before(async () => {
      t = await startTestServer(backend, { schemaPrefix: 'drover_cache_fields_' });
      await t.server.context.cache.createCache(t.defaultWorkspaceId, CACHE, { trustedKeys: [signer.publicKey] });
      push = (await t.mint('push')).token;
    });
    after(async () => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- t is still unset here when before() failed
      await t?.close();
    });

    const served = async (p: FakePath) => fetchCache(t, 'GET', `/cache/${CACHE}/${p.hash}.narinfo`, push);

    /** A refused batch leaves nothing; the same path pushed validly afterwards is the one served. */
    async function refusedThenValid(p: FakePath, poisoned: Record<string, unknown>, valid: Record<string, unknown>): Promise<string> {
      const refused = await pushBatch(t, CACHE, batchBody([{ path: p, info: pathInfoOf(p, poisoned) }]), push);
      assert.equal(refused.status, 400, `poisoned ${JSON.stringify(poisoned)}: ${refused.text}`);
      assert.equal(refused.json.code, 'DROVER_ERR_NARINFO_INVALID');
      assert.equal((await served(p)).status, 404, 'a refused upload leaves nothing');
      assert.equal((await pushBatch(t, CACHE, batchBody([{ path: p, info: pathInfoOf(p, valid) }]), push)).status, 204);
      const got = await served(p);
      assert.equal(got.status, 200);
      assert.equal(lines(got.body, 'URL').length, 1);
      assert.deepEqual(lines(got.body, 'References'), ['References: ']);
      return got.body;
    }

    test('batch push: a newline in Deriver cannot add lines; the later valid upload is served', async () => {
      const deriver = validDeriver();
      const body = await refusedThenValid(
        fakePath('deriver'),
        { deriver: `${deriver}\nURL: nar/${'0'.repeat(52)}.nar\nReferences: ${hash32()}-evil` },
        { deriver },
      );
      assert.deepEqual(lines(body, 'Deriver'), [`Deriver: ${deriver}`]);
    });

    test('batch push: CA must be one of Nix’s forms, without control characters', async () => {
      const ca = validCa();
      for (const poisoned of ['hello', `${ca}\nURL: nar/x.nar`, `${ca}\r`, `fixed:r:sha256:${'0'.repeat(51)}`, `text:sha1:${'0'.repeat(40)}`]) {
        const body = await refusedThenValid(fakePath('ca'), { ca: poisoned }, { ca });
        assert.deepEqual(lines(body, 'CA'), [`CA: ${ca}`]);
      }
    });

    test('batch push: references and deriver follow the store path name rule', async () => {
      await refusedThenValid(fakePath('refs'), { references: [`${hash32()}-x\nURL: nar/y.nar`] }, {});
      await refusedThenValid(fakePath('refs'), { references: [`${hash32()}-..`] }, {});
      await refusedThenValid(fakePath('drv'), { deriver: `${hash32()}-not-a-drv` }, {});
    });

    test('batch push: a trusted signature with text after it is refused, not kept with the text', async () => {
      const p = fakePath('signed');
      const sig = signNarinfo(signer, { storePath: p.storePath, narHash: parseNixHash(p.narHash), narSize: p.bytes.length, references: [] });
      const body = await refusedThenValid(p, { sigs: [`${sig}\nURL: nar/${'0'.repeat(52)}.nar`] }, { sigs: [sig] });
      assert.ok(lines(body, 'Sig').includes(`Sig: ${sig}`), 'the valid trusted signature is kept');
    });

    test('single-path push (PUT …/paths): CA and Deriver are validated the same way', async () => {
      const p = fakePath('single');
      const send = (info: Record<string, unknown>) =>
        api(t, 'PUT', `/api/v1/caches/${CACHE}/paths`, {
          headers: {
            ...bearer(push),
            'content-type': 'application/octet-stream',
            'x-drover-compression': 'none',
            'x-drover-path-info': Buffer.from(JSON.stringify(pathInfoOf(p, info))).toString('base64url'),
          },
          body: p.bytes,
        });
      const refused = await send({ ca: `${validCa()}\nReferences: ${hash32()}-evil` });
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.json.code, 'DROVER_ERR_NARINFO_INVALID');
      assert.equal((await send({ deriver: `${validDeriver()}\u0000` })).status, 400);
      assert.equal((await served(p)).status, 404);
      const ca = validCa();
      assert.equal((await send({ ca })).status, 204);
      assert.deepEqual(lines((await served(p)).body, 'CA'), [`CA: ${ca}`]);
    });

    test('plain narinfo upload: free-text CA, control characters and repeated keys are refused; a valid one is then accepted', async () => {
      const p = fakePath('plain');
      assert.equal((await putNar(t, CACHE, p, push)).status, 204);
      const ca = validCa();
      for (const extra of [
        'CA: anything at all\n',
        `CA: ${ca}\rURL: nar/x.nar\n`,
        `Deriver: ${validDeriver()}\u000bReferences: x\n`,
        `URL: nar/${p.file}\n`,
        `CA: ${ca}\nCA: ${ca}\n`,
      ]) {
        const refused = await putNarinfo(t, CACHE, p, push, narinfoOf(p, extra));
        assert.equal(refused.status, 400, `${JSON.stringify(extra)}: ${refused.text}`);
        assert.equal(refused.json.code, 'DROVER_ERR_NARINFO_INVALID');
        assert.equal((await served(p)).status, 404);
      }
      assert.equal((await putNarinfo(t, CACHE, p, push, narinfoOf(p, `CA: ${ca}\n`))).status, 204);
      assert.deepEqual(lines((await served(p)).body, 'CA'), [`CA: ${ca}`]);
    });

    test('a poisoned narinfo stored before these rules does not stick: the next valid upload replaces it', async () => {
      const p = fakePath('legacy');
      const cache = await t.server.context.cache.findCache(CACHE);
      const poisoned = narinfoOf(p, 'CA: free text from an old server\nSig: x:y\n');
      await upsertPath(t.db, {
        cache_id: cache.id,
        store_hash: p.hash,
        store_path: p.storePath,
        nar_file: p.file,
        nar_size: p.bytes.length,
        refs: '',
        narinfo: poisoned,
        created_at: nowIso(),
        touched_at: nowIso(),
      });
      assert.equal((await pushBatch(t, CACHE, batchBody([{ path: p }]), push)).status, 204);
      const got = await served(p);
      assert.deepEqual(lines(got.body, 'CA'), [], got.body);
      assert.equal(lines(got.body, 'Sig').length, 1, 'signed by the cache');
      // A sound narinfo is not replaced by a second upload: the first one wins.
      const again = await pushBatch(t, CACHE, batchBody([{ path: p, info: pathInfoOf(p, { ca: validCa() }) }]), push);
      assert.equal(again.status, 204);
      assert.equal((await served(p)).body, got.body);
    });
  });
}
