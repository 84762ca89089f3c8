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
  tokenAllows,
  tokenBinding,
  tokenKindsAllowed,
  tokenRole,
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

  const malformed: [string, string][] = [
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
    assert.deepEqual(tokenKindsAllowed('agent'), ['agent']);
    for (const action of ['deploy', 'read', 'admin'] as const) {
      assert.equal(tokenAllows('agent', action), false, action);
      assert.equal(tokenAllows('admin', action), true, action);
    }
    assert.equal(tokenAllows('activate', 'admin'), false);
    assert.equal(tokenAllows('activate', 'deploy'), true);
  });

  test('tokens act with the role of the table; push and pull tokens only on caches, and bind to one', () => {
    assert.equal(tokenRole('activate'), 'deployer');
    assert.equal(tokenRole('admin'), 'admin');
    for (const kind of ['agent', 'push', 'pull'] as const) assert.equal(tokenRole(kind), null, kind);
    assert.deepEqual(tokenKindsAllowed('cache-push').sort(), ['admin', 'push']);
    assert.deepEqual(tokenKindsAllowed('cache-pull').sort(), ['activate', 'admin', 'agent', 'pull', 'push']);
    assert.equal(tokenBinding('push'), 'cache');
    assert.equal(tokenBinding('agent'), 'agent');
    assert.equal(tokenBinding('admin'), null);
  });
});
