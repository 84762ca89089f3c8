/**
 * The request limits of `drover server` (issue 12 §16): the body idle
 * timeout from the TOML file (`request_body_idle_timeout`, a bare number
 * is seconds) or DROVER_REQUEST_BODY_IDLE_TIMEOUT (a duration such as
 * "30s" or "750ms"; a bare number is seconds there too), unset by default (the server's 30 s), a bad value a
 * DROVER_ERR_CONFIG error naming its source.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DroverError } from '@drover/protocol';
import { resolveServerSettings } from '../src/config.js';

describe('request_body_idle_timeout', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-request-settings-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('unset by default; a duration in the environment, a bare number being seconds', () => {
    assert.equal(resolveServerSettings({ env: {}, flags: {} }).requestBodyIdleMs, undefined);
    assert.equal(resolveServerSettings({ env: { DROVER_REQUEST_BODY_IDLE_TIMEOUT: '5s' }, flags: {} }).requestBodyIdleMs, 5000);
    assert.equal(resolveServerSettings({ env: { DROVER_REQUEST_BODY_IDLE_TIMEOUT: '750ms' }, flags: {} }).requestBodyIdleMs, 750);
    assert.equal(resolveServerSettings({ env: { DROVER_REQUEST_BODY_IDLE_TIMEOUT: '45' }, flags: {} }).requestBodyIdleMs, 45_000);
  });

  test('a bare number in the TOML file is seconds, and the environment wins', () => {
    const file = join(dir, 'drover.toml');
    writeFileSync(file, 'request_body_idle_timeout = 2\n');
    assert.equal(resolveServerSettings({ configFile: file, env: {}, flags: {} }).requestBodyIdleMs, 2000);
    assert.equal(resolveServerSettings({ configFile: file, env: { DROVER_REQUEST_BODY_IDLE_TIMEOUT: '1m' }, flags: {} }).requestBodyIdleMs, 60_000);
  });

  test('a value that is no duration is refused naming its source', () => {
    assert.throws(
      () => resolveServerSettings({ env: { DROVER_REQUEST_BODY_IDLE_TIMEOUT: 'soon' }, flags: {} }),
      (err: unknown) =>
        err instanceof DroverError && err.code === 'DROVER_ERR_CONFIG' && err.message.includes('DROVER_REQUEST_BODY_IDLE_TIMEOUT: request_body_idle_timeout'),
    );
  });
});
