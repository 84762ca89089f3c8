/**
 * The SQLite statement cache (db/statement-cache.ts): the same SQL text
 * gets the statement prepared before, the least recently used one is
 * dropped beyond the bound, and a kept statement still sees a schema change.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { withStatementCache } from '../src/db/statement-cache.js';

describe('SQLite statement cache', () => {
  test('one statement per SQL text, the least recently used dropped beyond the bound', () => {
    const sqlite = new SQLite(':memory:');
    const db = withStatementCache(sqlite, 2);
    try {
      const a = db.prepare('select 1 as x');
      assert.equal(db.prepare('select 1 as x'), a);
      const b = db.prepare('select 2 as x');
      assert.equal(db.prepare('select 1 as x'), a, 'a is the most recently used now');
      db.prepare('select 3 as x'); // drops b, the least recently used
      assert.equal(db.prepare('select 1 as x'), a);
      assert.notEqual(db.prepare('select 2 as x'), b, 'b was prepared again');
      assert.deepEqual(a.all([]), [{ x: 1 }]);
    } finally {
      db.close();
    }
  });

  test('a kept statement runs against the schema as it is now', () => {
    const sqlite = new SQLite(':memory:');
    const db = withStatementCache(sqlite);
    try {
      sqlite.exec('create table t (a integer)');
      db.prepare('insert into t (a) values (?)').run([1]);
      const select = db.prepare('select * from t');
      assert.deepEqual(select.all([]), [{ a: 1 }]);
      sqlite.exec('alter table t add column b text');
      db.prepare('insert into t (a) values (?)').run([2]);
      assert.deepEqual(db.prepare('select * from t').all([]), [
        { a: 1, b: null },
        { a: 2, b: null },
      ]);
    } finally {
      db.close();
    }
  });
});
