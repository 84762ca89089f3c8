/**
 * Finding PostgreSQL: a URL that answers is used, one that does not gives
 * the one skip line (naming only that URL: the defaults are not tried
 * behind $DROVER_TEST_DATABASE_URL's back), or an error when a full run
 * requires PostgreSQL; schema names are checked before a drop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { freePort } from '../src/ports.js';
import { DEFAULT_POSTGRES_URLS, dropSchema, findPostgres, probePostgres, randomSchema } from '../src/postgres.js';

test('a closed port gives one skip line naming that URL only', async () => {
  const url = `postgres://postgres:secret@127.0.0.1:${await freePort()}/test`;
  const target = await probePostgres({ DROVER_TEST_DATABASE_URL: url });
  assert.equal(target.url, undefined);
  assert.match(
    target.skip,
    /^PostgreSQL not reachable at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/test \(.*ECONNREFUSED.*\): skipping the PostgreSQL cases; check DROVER_TEST_DATABASE_URL$/,
  );
  assert.doesNotMatch(target.skip, /\n/);
  for (const other of DEFAULT_POSTGRES_URLS) assert.ok(!target.skip.includes(other), 'the defaults are not tried');
});

test('DROVER_TEST_REQUIRE_POSTGRES=1 turns the skip into an error', async () => {
  const url = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
  await assert.rejects(
    probePostgres({ DROVER_TEST_DATABASE_URL: url, DROVER_TEST_REQUIRE_POSTGRES: '1' }),
    /skipping the PostgreSQL cases.*DROVER_TEST_REQUIRE_POSTGRES=1/,
  );
});

test('schema names: random ones are fresh, odd ones are refused before connecting', async () => {
  assert.match(randomSchema('drover_x_'), /^drover_x_[0-9a-f]{12}$/);
  assert.notEqual(randomSchema('a_'), randomSchema('a_'));
  await assert.rejects(dropSchema('postgres://nowhere.invalid/x', 'public; drop table x'), /refusing to drop schema/);
});

const pgFound = await findPostgres();
test('a reachable server: a schema is created and dropped', { skip: pgFound.skip }, async () => {
  const url = pgFound.url ?? assert.fail('no PostgreSQL');
  const schema = randomSchema('drover_support_');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`create schema ${schema}`);
    await dropSchema(url, schema);
    const left = await client.query('select 1 from information_schema.schemata where schema_name = $1', [schema]);
    assert.equal(left.rowCount, 0);
  } finally {
    await client.end();
  }
});
