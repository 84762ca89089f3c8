/** The process runner: exit codes and output instead of throws, ENOENT as 127, signals as 128+N, timeouts, runOk's message. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, runOk } from '../src/run.js';

test('run() reports the exit code, stdout and stderr, with stdin and extra environment', async () => {
  const res = await run('sh', ['-c', 'read x; echo "out:$x:$V"; echo err >&2; exit 3'], { input: 'hi\n', env: { V: 'v' } });
  assert.deepEqual(res, { code: 3, stdout: 'out:hi:v\n', stderr: 'err\n' });
});

test('a command that cannot start is code 127; death by signal is 128 + N', async () => {
  assert.equal((await run('/nonexistent/drover-command', [])).code, 127);
  assert.equal((await run('sh', ['-c', 'kill -TERM $$'])).code, 128 + 15);
});

test('timeoutMs kills the child and says so', async () => {
  const res = await run('sleep', ['5'], { timeoutMs: 100 });
  assert.equal(res.code, 128 + 9);
  assert.match(res.stderr, /killed after 100 ms/);
});

test('runOk() throws with the command and its last output lines', async () => {
  await assert.rejects(runOk('sh', ['-c', 'echo boom >&2; exit 2']), /^Error: sh -c echo boom >&2; exit 2 exited with 2:\nboom$/);
  assert.equal((await runOk('true', [])).code, 0);
});
