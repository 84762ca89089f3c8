/**
 * Token text (tokens.ts): formatToken/parseToken round-trip for every kind,
 * malformed tokens are rejected, and the scope table says which kinds may
 * do what.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  formatToken,
  isTokenKind,
  parseToken,
  TOKEN_ID_LENGTH,
  TOKEN_KINDS,
  TOKEN_SCOPES,
  TOKEN_SECRET_LENGTH,
  type ParsedToken,
} from '../src/index.js';

const ID = randomBytes(TOKEN_ID_LENGTH / 2).toString('hex');
const SECRET = randomBytes(TOKEN_SECRET_LENGTH / 2).toString('hex');

describe('parseToken / formatToken', () => {
  for (const kind of TOKEN_KINDS) {
    test(`round-trips a ${kind} token`, () => {
      const parts: ParsedToken = { kind, id: ID, secret: SECRET };
      const text = formatToken(parts);
      assert.equal(text, `drover_${kind}_${ID}_${SECRET}`);
      assert.deepEqual(parseToken(text), parts);
      assert.equal(formatToken(parseToken(text)!), text);
    });
  }

  test('surrounding whitespace (a pasted token with a newline) is ignored', () => {
    assert.deepEqual(parseToken(`  drover_admin_${ID}_${SECRET}\n`), { kind: 'admin', id: ID, secret: SECRET });
  });

  const malformed: Array<[string, string]> = [
    ['empty', ''],
    ['only the prefix', 'drover_'],
    ['an unknown kind', `drover_root_${ID}_${SECRET}`],
    ['an uppercase kind', `drover_ADMIN_${ID}_${SECRET}`],
    ['another prefix', `cachix_admin_${ID}_${SECRET}`],
    ['uppercase hex', `drover_admin_${ID.toUpperCase().replace(/^[0-9]/, 'A')}_${SECRET}`],
    ['a short id', `drover_admin_${ID.slice(1)}_${SECRET}`],
    ['a long id', `drover_admin_${ID}0_${SECRET}`],
    ['a short secret', `drover_admin_${ID}_${SECRET.slice(1)}`],
    ['a long secret', `drover_admin_${ID}_${SECRET}0`],
    ['non-hex in the secret', `drover_admin_${ID}_${SECRET.slice(1)}g`],
    ['an extra part', `drover_admin_${ID}_${SECRET}_x`],
    ['a missing separator', `drover_admin${ID}_${SECRET}`],
    ['a space inside', `drover_admin_${ID} _${SECRET}`],
    ['a Bearer prefix', `Bearer drover_admin_${ID}_${SECRET}`],
  ];
  for (const [label, text] of malformed) {
    test(`rejects ${label}`, () => assert.equal(parseToken(text), null));
  }
});

describe('kinds and scopes', () => {
  test('isTokenKind', () => {
    for (const kind of ['agent', 'activate', 'admin']) assert.equal(isTokenKind(kind), true);
    for (const value of ['Admin', 'root', '', null, 1]) assert.equal(isTokenKind(value), false);
  });

  test('agent tokens only hold agent connections; admin tokens do everything else', () => {
    assert.deepEqual([...TOKEN_SCOPES.agent], ['agent']);
    for (const scope of ['activate', 'read', 'admin'] as const) {
      assert.equal((TOKEN_SCOPES[scope] as readonly string[]).includes('agent'), false, scope);
      assert.equal((TOKEN_SCOPES[scope] as readonly string[]).includes('admin'), true, scope);
    }
    assert.equal((TOKEN_SCOPES.admin as readonly string[]).includes('activate'), false);
    assert.equal((TOKEN_SCOPES.activate as readonly string[]).includes('activate'), true);
  });
});
