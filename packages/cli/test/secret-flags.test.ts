/** `drover secret set`'s --mode and --owner: what they accept and how they read. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMode, parseOwner } from '../src/commands/secret.js';

test('--mode is octal, with or without the leading 0; anything else is refused', () => {
  assert.equal(parseMode('0400'), 0o400);
  assert.equal(parseMode('440'), 0o440);
  assert.equal(parseMode('04755'), 0o4755);
  for (const bad of ['999', '0o400', '', '77777', '-1', '0x1ff']) assert.throws(() => parseMode(bad), /not an octal file mode/, bad);
});

test('--owner is user:group, user or :group', () => {
  assert.deepEqual(parseOwner('postgres:postgres'), { owner: 'postgres', group: 'postgres' });
  assert.deepEqual(parseOwner('root'), { owner: 'root', group: null });
  assert.deepEqual(parseOwner(':keys'), { owner: null, group: 'keys' });
  assert.deepEqual(parseOwner('1000:100'), { owner: '1000', group: '100' });
  assert.throws(() => parseOwner(':'), /--owner needs a user/);
});
