/** DROVER_VERSION is the root package.json's version: the one place it is written. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DROVER_VERSION } from '../src/index.js';

test('DROVER_VERSION is read from the root package.json', () => {
  const root: unknown = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8'));
  assert.ok(typeof root === 'object' && root !== null && 'version' in root);
  assert.equal(DROVER_VERSION, root.version);
  assert.match(DROVER_VERSION, /^\d+\.\d+\.\d+/);
});
