/**
 * The health checks (runner/checks/): each kind against something real — a
 * fake `systemctl` on PATH for unit and no-failed-units (systemd is not PID 1
 * here), an HTTP server answering 200, 503 or never, a listening and a
 * closed TCP port, commands that pass, fail and hang — and runChecks'
 * retries, log lines and first failure; readChecks on a directory and on a file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseChecksFile, type HealthCheck } from '@drover/protocol';
import { probe } from '../src/runner/checks/probes.js';
import { readChecks, runChecks } from '../src/runner/checks/run-checks.js';
import { scratch } from './journal-fixtures.js';

const tmp = scratch('drover-checks-test-');
const savedPath = process.env['PATH'];
let http: Server;
let base = '';

/** One check from its JSON form, with defaults applied. */
function check(value: Record<string, unknown>): HealthCheck {
  const r = parseChecksFile(JSON.stringify({ checks: [value] }));
  if (!r.ok) throw new Error(r.error);
  return r.checks[0]!;
}
const once = (value: Record<string, unknown>) => probe(check(value), () => {});

before(async () => {
  // systemctl: "is-active UNIT" is active only for good.service; "--failed" lists $FAILED_UNITS.
  const bin = tmp.dir('bin');
  writeFileSync(
    join(bin, 'systemctl'),
    `#!/bin/sh
if [ "$1" = is-active ]; then
  if [ "$2" = good.service ]; then echo active; exit 0; fi
  echo inactive; exit 3
fi
if [ "$1" = --failed ]; then
  for u in $FAILED_UNITS; do echo "$u loaded failed failed some unit"; done
  exit 0
fi
exit 1
`,
  );
  chmodSync(join(bin, 'systemctl'), 0o755);
  process.env['PATH'] = `${bin}:${savedPath ?? ''}`;
  http = createHttpServer((req, res) => {
    if (req.url === '/hang') return; // never answers
    res.statusCode = req.url === '/ok' ? 200 : 503;
    res.end('x');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${String((http.address() as AddressInfo).port)}`;
});

after(() => {
  process.env['PATH'] = savedPath;
  http.closeAllConnections();
  http.close();
  tmp.remove();
});

test('unit: active passes, inactive fails naming its state', async () => {
  assert.equal(await once({ type: 'unit', unit: 'good.service' }), null);
  assert.equal(await once({ type: 'unit', unit: 'nginx.service' }), 'unit nginx.service is inactive');
});

test('no-failed-units: none passes, failed ones are named', async () => {
  delete process.env['FAILED_UNITS'];
  assert.equal(await once({ type: 'no-failed-units' }), null);
  process.env['FAILED_UNITS'] = 'a.service b.mount';
  try {
    assert.equal(await once({ type: 'no-failed-units' }), 'failed units: a.service, b.mount');
  } finally {
    delete process.env['FAILED_UNITS'];
  }
});

test('unit: systemctl missing says so', async () => {
  process.env['PATH'] = tmp.dir('empty');
  try {
    assert.match((await once({ type: 'unit', unit: 'good.service' })) ?? '', /cannot run systemctl.*unit checks need systemd/);
  } finally {
    process.env['PATH'] = `${join(tmp.dir('bin'))}:${savedPath ?? ''}`;
  }
});

test('http: 2xx passes, 503 fails, no answer within the timeout fails', { timeout: 10_000 }, async () => {
  assert.equal(await once({ type: 'http', url: `${base}/ok` }), null);
  assert.equal(await once({ type: 'http', url: `${base}/down` }), `${base}/down answered HTTP 503`);
  assert.equal(await once({ type: 'http', url: `${base}/hang`, timeout: '300ms' }), `${base}/hang did not answer within 300ms`);
});

test('tcp: a listening port passes, a closed one fails', { timeout: 10_000 }, async () => {
  const server = createTcpServer((s) => s.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    assert.equal(await once({ type: 'tcp', host: '127.0.0.1', port }), null);
  } finally {
    await new Promise((r) => server.close(r));
  }
  assert.match((await once({ type: 'tcp', host: '127.0.0.1', port })) ?? '', /^cannot connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
});

test('command: exit 0 passes, other codes fail with stderr, a hang is killed at the timeout', { timeout: 10_000 }, async () => {
  const lines: string[] = [];
  assert.equal(await probe(check({ type: 'command', argv: ['/bin/sh', '-c', 'echo fine'] }), (_s, t) => lines.push(t)), null);
  assert.deepEqual(lines, ['fine']);
  assert.equal(
    await once({ type: 'command', argv: ['/bin/sh', '-c', 'echo broken >&2; exit 4'] }),
    `/bin/sh -c 'echo broken >&2; exit 4' exited with code 4: broken`,
  );
  assert.match((await once({ type: 'command', argv: ['/bin/sleep', '100'], timeout: '300ms' })) ?? '', /did not finish within 300ms and was killed/);
});

test('runChecks: retries up to `retries`, logs every attempt, stops at the first check that never passes', { timeout: 10_000 }, async () => {
  const said: string[] = [];
  const log = { say: (t: string) => said.push(t), line: () => {} };
  const flaky = check({ type: 'command', argv: ['/bin/true'], name: 'flaky', retries: 2, interval: '10ms' });
  const broken = check({ type: 'command', argv: ['/bin/true'], name: 'broken', retries: 1, interval: '10ms' });
  const never = check({ type: 'command', argv: ['/bin/true'], name: 'never-run' });
  const calls: string[] = [];
  const failure = await runChecks([flaky, broken, never], log, (c) => {
    calls.push(c.name);
    const nth = calls.filter((n) => n === c.name).length;
    return Promise.resolve(c.name === 'flaky' && nth === 3 ? null : 'nope');
  });
  assert.equal(failure, 'health check broken failed: nope');
  assert.deepEqual(calls, ['flaky', 'flaky', 'flaky', 'broken', 'broken']);
  assert.deepEqual(said, [
    'check 1/3 (flaky): attempt 1/3 failed: nope; retrying in 10ms',
    'check 1/3 (flaky): attempt 2/3 failed: nope; retrying in 10ms',
    'check 1/3 (flaky): passed on attempt 3',
    'check 2/3 (broken): attempt 1/2 failed: nope; retrying in 10ms',
    'check 2/3 (broken): FAILED after 2 attempts: nope',
  ]);
  assert.equal(await runChecks([], log), null);
});

test('readChecks: no file is no checks, a bad file is an error naming it', () => {
  const dir = tmp.dir('store-path');
  assert.deepEqual(readChecks(dir), { ok: true, checks: [] });
  writeFileSync(join(dir, 'drover-checks.json'), '{"checks": [{"type": "unit"}]}');
  const r = readChecks(dir);
  assert.ok(!r.ok && /drover-checks.json is invalid: checks\[0\] \(unit\) is invalid at \/unit/.test(r.error), JSON.stringify(r));
  const unreadable = join(tmp.dir('other'), 'drover-checks.json');
  mkdirSync(unreadable);
  const bad = readChecks(join(unreadable, '..'));
  assert.ok(!bad.ok && bad.error.startsWith(`cannot read ${unreadable}: EISDIR`), JSON.stringify(bad));
  // A store path that is one file (a plain profile can be) carries no checks.
  const file = join(tmp.dir('file-path'), 'hello');
  writeFileSync(file, 'hello');
  assert.deepEqual(readChecks(file), { ok: true, checks: [] });
});
