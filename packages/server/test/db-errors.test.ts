/**
 * Telling database failures apart (db/refused-value.ts, db/connect.ts) and
 * the text rule for agent reports (db/text.ts): a value PostgreSQL refuses
 * (SQLSTATE class 22, here a real one) is a refusal and not a lost
 * connection; a terminated backend (57P01) is a lost connection; NUL and lone
 * surrogates become U+FFFD while paired surrogates stay.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { findPostgres } from '@drover/test-support';
import { isConnectionLost } from '../src/db/connect.js';
import { refusedValue } from '../src/db/refused-value.js';
import { storableText } from '../src/db/text.js';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

const postgres = await findPostgres();

describe('database failures', () => {
  test('data exceptions and SQLite refusals are refusals, not lost connections', () => {
    const nul = withCode('invalid byte sequence for encoding "UTF8": 0x00', '22021');
    assert.equal(refusedValue(nul), nul.message);
    assert.equal(isConnectionLost(nul), false);
    assert.equal(refusedValue(withCode('string or blob too big', 'SQLITE_TOOBIG')), 'string or blob too big');
    assert.equal(refusedValue(new Error('boom')), null);
    assert.equal(refusedValue('not an error'), null);
  });

  test('a terminated backend is a lost connection, not a refusal', () => {
    const terminated = withCode('terminating connection due to administrator command', '57P01');
    assert.equal(isConnectionLost(terminated), true);
    assert.equal(refusedValue(terminated), null);
  });

  test('a NUL PostgreSQL refuses is classified as a refusal', { skip: postgres.skip }, async () => {
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    try {
      const err: unknown = await client.query('select $1::text as t', ['a\u0000b']).then(
        () => null,
        (e: unknown) => e,
      );
      assert.match(refusedValue(err) ?? 'no refusal', /0x00/);
    } finally {
      await client.end();
    }
  });
});

describe('storableText', () => {
  test('NUL and lone surrogates become U+FFFD; everything else is kept', () => {
    assert.equal(storableText('a\u0000b\u0000'), 'a\uFFFDb\uFFFD');
    assert.equal(storableText('x\uD800y\uDC00z'), 'x\uFFFDy\uFFFDz');
    assert.equal(storableText('emoji 😀 tab\t bell\u0007'), 'emoji 😀 tab\t bell\u0007');
  });
});
