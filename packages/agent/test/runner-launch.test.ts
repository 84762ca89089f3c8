/**
 * Starting a deployment runner (runner-launch.ts): under systemd it goes
 * through `systemd-run --scope` with a unit of its own, elsewhere or with
 * `--runner-scope off` it is the runner's own command line; a systemd-run
 * that failed before the runner ran makes every later start direct, once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { findSystemdRun, RunnerLauncher, runnerCommand, scopeUnitName, underSystemd } from '../src/runner-launch.js';

const ID = '0f8c2f6e-3c4b-4d52-9a51-2b7e8d1c9a10';
const ARGV = ['/usr/bin/node', '/opt/drover/runner/main.js', `/var/lib/drover-agent/web-1/deployments/${ID}`] as const;

/** A logger whose lines are kept, and the lines. */
function capture(): { log: pino.Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { log, lines };
}

const SYSTEMD_ENV = { INVOCATION_ID: '9f3a', PATH: '/nowhere' };

test('with systemd-run the runner is exec-ed by it in its own scope named after the deployment', () => {
  assert.deepEqual(runnerCommand(ARGV, ID, '/usr/bin/systemd-run'), {
    file: '/usr/bin/systemd-run',
    args: ['--scope', '--quiet', '--collect', `--unit=drover-deployment-${ID}.scope`, `--description=Drover deployment ${ID}`, '--', ...ARGV],
    scope: `drover-deployment-${ID}.scope`,
  });
});

test('an agent that is not root asks its user manager for the scope (systemd-run --user)', () => {
  const { log } = capture();
  const launcher = new RunnerLauncher('auto', log, SYSTEMD_ENV, { ...machine('/usr/bin/systemd-run'), uid: 1000 });
  const launch = launcher.command(ARGV, ID);
  assert.deepEqual(launch, runnerCommand(ARGV, ID, '/usr/bin/systemd-run', 'user'));
  assert.deepEqual(launch.args.slice(0, 2), ['--user', '--scope']);
});

test('without systemd-run the command line is the runner itself', () => {
  assert.deepEqual(runnerCommand(ARGV, ID, null), { file: ARGV[0], args: ARGV.slice(1), scope: null });
});

test('a deployment id with characters a unit name cannot hold gets them replaced', () => {
  assert.equal(scopeUnitName('a b/c@d'), 'drover-deployment-a_b_c_d.scope');
});

test('under systemd means a service invocation id and systemd as init', () => {
  assert.equal(
    underSystemd({ INVOCATION_ID: 'x' }, (p) => p === '/run/systemd/system'),
    true,
  );
  assert.equal(
    underSystemd({}, () => true),
    false,
    'a login shell or a container without INVOCATION_ID',
  );
  assert.equal(
    underSystemd({ INVOCATION_ID: 'x' }, () => false),
    false,
    'INVOCATION_ID inherited where systemd is not init',
  );
});

test('systemd-run is looked up on PATH first, then in the well-known directories', () => {
  assert.equal(
    findSystemdRun({ PATH: 'relative:/opt/a:/opt/b' }, (p) => p === '/opt/b/systemd-run' || p === '/usr/bin/systemd-run'),
    '/opt/b/systemd-run',
  );
  assert.equal(
    findSystemdRun({}, (p) => p === '/usr/bin/systemd-run'),
    '/usr/bin/systemd-run',
  );
  assert.equal(
    findSystemdRun({ PATH: 'relative' }, (p) => p === 'relative/systemd-run'),
    null,
    'a relative PATH entry is never used',
  );
});

/** A machine where systemd is init and systemd-run is at `systemdRun` (or nowhere). */
function machine(systemdRun: string | null) {
  return { exists: (p: string) => p === '/run/systemd/system', executable: (p: string) => p === systemdRun, uid: 0 };
}

test('under systemd with systemd-run found, runners get a scope each', () => {
  const { log, lines } = capture();
  const launcher = new RunnerLauncher('auto', log, SYSTEMD_ENV, machine('/usr/bin/systemd-run'));
  assert.equal(launcher.mode, 'scope');
  assert.deepEqual(launcher.command(ARGV, ID), runnerCommand(ARGV, ID, '/usr/bin/systemd-run'));
  assert.deepEqual(lines, []);
});

test('runners start directly when not under systemd, or with --runner-scope off, without a warning', () => {
  for (const [mode, env] of [
    ['auto', { PATH: '/usr/bin' }],
    ['off', SYSTEMD_ENV],
  ] as const) {
    const { log, lines } = capture();
    const launcher = new RunnerLauncher(mode, log, env, machine('/usr/bin/systemd-run'));
    assert.equal(launcher.mode, 'direct');
    assert.deepEqual(launcher.command(ARGV, ID), runnerCommand(ARGV, ID, null));
    assert.deepEqual(lines, []);
  }
});

test('under systemd without systemd-run: direct starts and one warning naming KillMode', () => {
  const { log, lines } = capture();
  const launcher = new RunnerLauncher('auto', log, SYSTEMD_ENV, machine(null));
  assert.equal(launcher.mode, 'direct');
  assert.equal(launcher.command(ARGV, ID).scope, null);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!.msg, /systemd-run is not on PATH.*KillMode=process/);
});

test('a systemd-run that failed before the runner ran: one warning, this and later runners start directly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-runner-launch-'));
  try {
    const { log, lines } = capture();
    const launcher = new RunnerLauncher('auto', log, SYSTEMD_ENV, machine('/usr/bin/systemd-run'));
    const scoped = launcher.command(ARGV, ID);
    const pid = join(dir, 'runner.pid');
    const logFile = join(dir, 'runner.log');
    writeFileSync(logFile, 'Failed to start transient scope unit: Access denied\n');
    assert.equal(launcher.fellBack(runnerCommand(ARGV, ID, null), 1, pid, logFile), false, 'a direct start has nothing to fall back from');
    assert.equal(launcher.fellBack(scoped, 0, pid, logFile), false, 'exit code 0 is the runner finishing');
    writeFileSync(pid, '123 456');
    assert.equal(launcher.fellBack(scoped, 1, pid, logFile), false, 'the runner wrote its PID: it ran, and failed on its own');
    rmSync(pid);
    assert.equal(lines.length, 0);
    assert.equal(launcher.fellBack(scoped, 1, pid, logFile), true);
    assert.equal(launcher.mode, 'direct');
    assert.equal(launcher.command(ARGV, ID).scope, null);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!.msg, /systemd-run could not start the deployment in a scope/);
    assert.equal((lines[0] as { said?: string } | undefined)?.said, 'Failed to start transient scope unit: Access denied');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
