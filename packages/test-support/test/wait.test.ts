/** Bounded waits, free ports and temp dirs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from '../src/ports.js';
import { tempDir } from '../src/temp-dir.js';
import { waitFor } from '../src/wait.js';

test('waitFor() returns the first truthy value of a sync or async probe', async () => {
  let n = 0;
  assert.equal(await waitFor('n to reach 3', () => (++n >= 3 ? n : null), 1000, 1), 3);
  assert.equal(await waitFor('a promise', async () => 'yes', 1000), 'yes');
});

test('waitFor() times out naming what it waited for, and passes a probe error on', async () => {
  await assert.rejects(
    waitFor('Godot', () => false, 30, 5),
    /^Error: timed out after 30 ms waiting for Godot$/,
  );
  await assert.rejects(
    waitFor('x', () => {
      throw new Error('probe broke');
    }),
    /probe broke/,
  );
});

test('freePort() gives a port that can be listened on', async () => {
  const port = await freePort();
  assert.ok(port > 0);
  const srv = createServer();
  await new Promise<void>((ok, fail) => srv.once('error', fail).listen(port, '127.0.0.1', ok));
  await new Promise<void>((ok) => srv.close(() => ok()));
});

test('tempDir() creates a fresh directory and removes it', async () => {
  const dir = await tempDir('drover-test-support-');
  assert.ok(existsSync(dir.path));
  assert.match(dir.path, /drover-test-support-/);
  await dir.remove();
  assert.equal(existsSync(dir.path), false);
  await dir.remove();
});
