/**
 * `drover activate` and the local admin commands refusing what cannot work,
 * end to end on SQLite with real Nix: a store path missing from the agents'
 * cache (built-in or external) is refused before anything is created, with
 * the path and the fix; `--no-cache-check` creates it anyway; progress lines
 * say which agents are offline while activate waits; a mistyped --data-dir
 * (or --database-schema) is refused without creating a database there.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import type { Deployment } from '@drover/protocol';
import { findPostgres, randomSchema } from '@drover/test-support';
import { buildFixtures, deleteFromStore, type Fixtures } from '../support/nix.js';
import { api, createToken, drover, randomName, waitFor } from '../support/drover.js';
import { deploymentIds, World } from './harness.js';

describe('activate checks and local admin checks on sqlite', { timeout: 420_000 }, () => {
  const world = new World('sqlite');
  /** Built here and never pushed to the external test cache. */
  let fresh: Fixtures;

  before(async () => {
    await world.setUp();
    fresh = await buildFixtures({ markerDir: join(world.dir, 'markers-fresh'), salt: `cache-check-${Date.now()}` });
    world.onTearDown(() => deleteFromStore([fresh.plain, fresh.darwin, fresh.home_manager]));
  });
  after(() => world.tearDown());

  async function deploymentCount(token = world.activateToken): Promise<number> {
    const r = await api<{ deployments: Deployment[] }>(world.server.url, token, 'GET', '/deployments?limit=1000');
    assert.equal(r.status, 200);
    return r.json.deployments.length;
  }

  /** An agent the server knows (its bound token declares it) that never connects; refused activations pass --timeout so a created deployment could not hang them. */
  async function declaredAgent(workspace = 'default'): Promise<string> {
    const name = randomName('declared');
    await createToken(world.backend, 'agent', ['--agent', name, '--workspace', workspace]);
    return name;
  }

  test(
    'external cache: a path it lacks (also a rollbackScript) → exit 1 naming it and the fix, nothing created; --no-cache-check creates it',
    { timeout: 60_000 },
    async () => {
      const name = await declaredAgent();
      const twin = await declaredAgent();
      const before = await deploymentCount();
      const asked = world.cache.requests.length;
      const r = await world.activate([await world.specFile({ [name]: fresh.plain, [twin]: fresh.plain }, fresh.darwin), '--timeout', '10s']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`2 store paths are not in cache ${world.cache.url}`));
      assert.match(
        r.stderr,
        new RegExp(`/agents/${name}: ${fresh.plain} \\(${name}, ${twin}\\): not in the cache; fix: nix copy --to ${world.cache.url} ${fresh.plain}`),
      );
      const heads = world.cache.requests.slice(asked).filter((q) => q === `HEAD /${fresh.plain.slice(11, 43)}.narinfo`);
      assert.equal(heads.length, 1, 'one request per distinct path, not per agent');
      assert.match(r.stderr, new RegExp(`/rollbackScript/x86_64-linux: ${fresh.darwin} \\(rollbackScript x86_64-linux\\): not in the cache`));
      assert.match(r.stderr, /--no-cache-check/);
      assert.equal(await deploymentCount(), before, 'nothing was created');
      // A pushed path passes the check; only the missing rollbackScript is named.
      const one = await world.activate([await world.specFile({ [name]: world.fixtures.plain }, fresh.darwin), '--timeout', '10s']);
      assert.equal(one.code, 1);
      assert.match(one.stderr, /1 store path is not in cache/);
      assert.doesNotMatch(one.stderr, new RegExp(world.fixtures.plain));
      assert.equal(await deploymentCount(), before, 'still nothing was created');

      const skipped = await world.activate([await world.specFile({ [name]: fresh.plain }, fresh.darwin), '--no-cache-check', '--async']);
      assert.equal(skipped.code, 0, skipped.stdout + skipped.stderr);
      const id = deploymentIds(skipped.stdout).get(name);
      assert.ok(id, skipped.stdout);
      assert.equal((await world.deployment(id)).status, 'Pending');
      assert.equal(await deploymentCount(), before + 1);
    },
  );

  test(
    'an external cache that never answers: refused within the bound of the check, each path "not checked", nothing created',
    { timeout: 60_000 },
    async () => {
      const silent = createServer(() => {}); // accepts, never answers
      await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', ok));
      world.onTearDown(
        () =>
          new Promise<void>((ok) => {
            silent.closeAllConnections();
            silent.close(() => ok());
          }),
      );
      silent.unref();
      const port = (silent.address() as AddressInfo).port;
      const ws = randomName('silent');
      assert.equal((await drover(['workspace', 'create', ws, ...world.backend.flags])).code, 0);
      const set = await drover([
        'workspace',
        'cache',
        ws,
        '--substituter',
        `http://127.0.0.1:${port}`,
        '--public-key',
        world.cache.publicKey,
        ...world.backend.flags,
      ]);
      assert.equal(set.code, 0, set.stderr);
      const activate = await createToken(world.backend, 'activate', ['--workspace', ws]);
      const name = await declaredAgent(ws);
      const started = Date.now();
      const r = await world.activate([await world.specFile({ [name]: world.fixtures.plain }), '--timeout', '20s'], activate);
      const took = Date.now() - started;
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /1 store path is not in \(or could not be checked in\) cache http:\/\/127\.0\.0\.1:\d+/);
      assert.match(r.stderr, /not checked: no answer from the cache within 5 s/);
      assert.ok(took < 15_000, `answered within the bound of the check (took ${took} ms)`);
      assert.equal(await deploymentCount(activate), 0, 'nothing was created');
    },
  );

  test(
    'built-in cache: a path it lacks → exit 1 naming it and `drover push CACHE PATH`, nothing created; a pushed one is deployed',
    { timeout: 120_000 },
    async () => {
      const ws = randomName('builtin');
      assert.equal((await drover(['workspace', 'create', ws, ...world.backend.flags])).code, 0);
      const admin = await createToken(world.backend, 'admin', ['--workspace', ws]);
      const cacheName = randomName('main');
      const made = await drover(['cache', 'create', cacheName, '--server', world.server.url, '--token', admin]);
      assert.equal(made.code, 0, made.stderr);
      const push = await createToken(world.backend, 'push', ['--workspace', ws, '--cache', cacheName]);
      const pushed = await drover(['push', cacheName, fresh.home_manager, '--server', world.server.url], { DROVER_PUSH_TOKEN: push });
      assert.equal(pushed.code, 0, pushed.stderr);
      const activate = await createToken(world.backend, 'activate', ['--workspace', ws]);
      const name = await declaredAgent(ws);
      const before = await deploymentCount(activate);

      const r = await world.activate([await world.specFile({ [name]: fresh.plain }), '--timeout', '10s'], activate);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`1 store path is not in built-in cache ${cacheName}, which the agents substitute from: ${fresh.plain}`));
      assert.match(r.stderr, new RegExp(`fix: drover push ${cacheName} ${fresh.plain}`));
      assert.equal(await deploymentCount(activate), before, 'nothing was created');

      const ok = await world.activate([await world.specFile({ [name]: fresh.home_manager }), '--async'], activate);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(await deploymentCount(activate), before + 1);
    },
  );

  test('waiting for an offline agent prints who and since when at every --progress-interval', { timeout: 60_000 }, async () => {
    const agent = await world.agent();
    await agent.proc.stop();
    await waitFor(
      `${agent.name} offline`,
      async () => ((await api<{ online: boolean }>(world.server.url, world.activateToken, 'GET', `/agents/${agent.name}`)).json.online ? null : true),
      10_000,
      100,
    );
    const r = await world.activate([await world.specFile({ [agent.name]: world.fixtures.plain }), '--progress-interval', '1s', '--timeout', '4500ms']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const tag = agent.name.replace(/[-]/g, '\\-');
    const lines = r.stdout.match(new RegExp(`^\\[${tag}\\]\\s+still waiting: the agent is offline since \\S+Z \\(\\S+ ago\\)$`, 'gm')) ?? [];
    assert.ok(lines.length >= 2, `progress lines every second while it waits:\n${r.stdout}`);
    const id = deploymentIds(r.stdout).get(agent.name)!;
    assert.equal((await api(world.server.url, world.activateToken, 'POST', `/deployments/${id}/cancel`)).status, 200);
  });

  test('a --data-dir without the server database is refused and nothing is created there', { timeout: 60_000 }, async () => {
    const typo = join(world.dir, 'dta');
    const r = await drover(['token', 'create', '--kind', 'activate', '--data-dir', typo]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, '', 'no token printed');
    assert.match(r.stderr, new RegExp(`error: no Drover database in ${typo}: the directory does not exist; nothing was created there`));
    assert.match(r.stderr, /hint: Pass the server's own --data-dir .* start `drover server` once/);
    assert.equal(existsSync(typo), false, 'no directory was created');

    const empty = join(world.dir, 'empty-data');
    await mkdir(empty);
    const user = await drover(['user', 'create', 'someone', '--role', 'admin', '--password-stdin', '--data-dir', empty], {}, 'a-long-password-1234\n');
    assert.equal(user.code, 1, user.stdout + user.stderr);
    assert.match(user.stderr, /no Drover database in .*empty-data: it has no drover\.sqlite/);
    assert.deepEqual(await readdir(empty), [], 'no database file was created');

    // The server's own directory works, and its token is accepted by the running server.
    const token = await createToken(world.backend, 'activate');
    assert.equal((await api(world.server.url, token, 'GET', '/agents')).status, 200);
  });
});

describe('local admin checks on postgres', { timeout: 60_000 }, () => {
  test('a --database-schema without the server database is refused and the schema is not created', async (t) => {
    const target = await findPostgres();
    if (target.skip !== false) {
      t.skip(target.skip);
      return;
    }
    const schema = randomSchema('drover_typo_');
    const r = await drover(['token', 'create', '--kind', 'activate', '--database-url', target.url, '--database-schema', schema]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`error: no Drover database in PostgreSQL schema ${schema}: it has no Drover tables`));
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      const found = await client.query('select 1 from information_schema.schemata where schema_name = $1', [schema]);
      assert.equal(found.rowCount, 0, 'the schema was not created');
    } finally {
      await client.end();
    }
  });
});
