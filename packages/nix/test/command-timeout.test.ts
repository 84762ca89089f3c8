/**
 * runCommand's timeout (command.ts): the command and everything it started
 * (its process group) are killed, the result says so, output up to then
 * is kept; without a timeout a quick command is untouched. parseFetchPlan
 * reads `nix-store --realise --dry-run`'s summary line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../src/command.js';
import { parseFetchPlan } from '../src/store.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a timeout kills the whole process group, children included', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-command-timeout-'));
  try {
    const pidFile = join(dir, 'child.pid');
    const lines: string[] = [];
    const started = Date.now();
    const result = await runCommand(
      { argv: ['/bin/sh', '-c', `sleep 1000 & echo $! > ${pidFile}; echo started; wait`] },
      { timeoutMs: 500, onLine: (_stream, text) => lines.push(text) },
    );
    assert.equal(result.timedOut, true);
    assert.equal(result.signal, 'SIGKILL');
    assert.deepEqual(lines, ['started']);
    assert.ok(Date.now() - started < 10_000, 'it did not wait for the sleeping child');
    const child = Number(readFileSync(pidFile, 'utf8').trim());
    for (let i = 0; i < 50 && alive(child); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(child), false, `the background child ${String(child)} was killed too`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a command that ends in time is not marked timed out', { timeout: 10_000 }, async () => {
  const result = await runCommand({ argv: ['/bin/sh', '-c', 'echo hi; exit 3'] }, { timeoutMs: 5000, captureStdout: true });
  assert.deepEqual([result.code, result.timedOut, result.stdout], [3, false, 'hi\n']);
});

test('parseFetchPlan reads one path, several paths, and nothing to fetch', () => {
  assert.deepEqual(parseFetchPlan(['these 3 paths will be fetched (1.50 MiB download, 4.00 MiB unpacked):', '  /nix/store/…']), {
    paths: 3,
    downloadBytes: Math.ceil(1.505 * 1024 * 1024),
    unpackedBytes: Math.ceil(4.005 * 1024 * 1024),
  });
  assert.equal(parseFetchPlan(['this path will be fetched (0.01 MiB download, 0.02 MiB unpacked):']).paths, 1);
  assert.deepEqual(parseFetchPlan(['don’t know how to build these paths:']), { paths: 0, downloadBytes: 0, unpackedBytes: 0 });
});
