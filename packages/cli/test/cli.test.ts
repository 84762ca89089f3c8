/**
 * The `drover` binary as a user meets it: help, and clear errors (with exit
 * code 1) for bad input before anything touches a server — unknown config
 * keys, invalid agent names, bad durations, missing files and tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrateToLatest, openDatabase } from '@drover/server';

const DROVER = fileURLToPath(new URL('../../../../bin/drover', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'drover-cli-'));

function drover(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('DROVER_') && key !== 'CREDENTIALS_DIRECTORY'));
  const r = spawnSync(process.execPath, [DROVER, ...args], { env: { ...clean, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--help lists every command', () => {
  const r = drover(['--help']);
  assert.equal(r.code, 0);
  for (const cmd of ['server', 'agent', 'activate', 'agents', 'deployments', 'token', 'workspace']) assert.match(r.stdout, new RegExp(`^  ${cmd}\\b`, 'm'));
});

test('server: an unknown key in the config file is an error naming it', () => {
  const file = join(dir, 'bad.toml');
  writeFileSync(file, 'listen = "127.0.0.1:0"\nlisten_adress = "oops"\n');
  const r = drover(['server', '--config', file, '--data-dir', join(dir, 'data')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error: config file .*bad\.toml: unknown key "listen_adress"/);
  assert.match(r.stderr, /hint: /);
});

test('server: a malformed listen address is refused', () => {
  const r = drover(['server', '--listen', 'localhost', '--data-dir', join(dir, 'data')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /must be HOST:PORT/);
});

test('agent: an invalid name is refused with the rule', () => {
  const r = drover(['agent', 'web 1', '--server', 'http://127.0.0.1:9'], { DROVER_AGENT_TOKEN: 'x' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /agent name "web 1" is invalid: use 1-64 letters, digits, "-", "_" or "\."/);
});

test('agent: no token is an error saying where a token comes from', () => {
  const r = drover(['agent', 'web-1', '--server', 'http://127.0.0.1:9']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no agent token: set DROVER_AGENT_TOKEN or pass --token-file/);
});

test('agent: CREDENTIALS_DIRECTORY without the agent-token credential is a clear error, exit 1', () => {
  const creds = join(dir, 'credentials');
  mkdirSync(creds, { recursive: true });
  const r = drover(['agent', 'web-1', '--server', 'http://127.0.0.1:9'], { CREDENTIALS_DIRECTORY: creds });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /error: cannot read the systemd credential agent-token \(CREDENTIALS_DIRECTORY=.*\): no such file; give the unit LoadCredential=agent-token:/,
  );
});

test('agent: a --runner-scope other than auto or off is refused, naming both', () => {
  const r = drover(['agent', 'web-1', '--server', 'http://127.0.0.1:9', '--runner-scope', 'on'], { DROVER_AGENT_TOKEN: 'x' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--runner-scope \(or DROVER_RUNNER_SCOPE\) "on" must be one of: auto, off/);
  const env = drover(['agent', 'web-1', '--server', 'http://127.0.0.1:9'], { DROVER_AGENT_TOKEN: 'x', DROVER_RUNNER_SCOPE: 'scope' });
  assert.equal(env.code, 1);
  assert.match(env.stderr, /"scope" must be one of: auto, off/);
});

test('activate: a bad --timeout, a missing file and invalid JSON are reported before any request', () => {
  const spec = join(dir, 'deploy.json');
  writeFileSync(spec, '{"agents": {"a": "/nix/store/00000000000000000000000000000000-x"}}');
  const env = { DROVER_ACTIVATE_TOKEN: 'x', DROVER_SERVER: 'http://127.0.0.1:9' };
  const timeout = drover(['activate', spec, '--timeout', '5x'], env);
  assert.equal(timeout.code, 1);
  assert.match(timeout.stderr, /--timeout "5x" is not a duration/);
  const missing = drover(['activate', join(dir, 'nope.json')], env);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read .*nope\.json/);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{"agents": ');
  const invalid = drover(['activate', bad], env);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /bad\.json is not valid JSON/);
  const notInSpec = drover(['activate', spec, '--agent', 'b'], env);
  assert.equal(notInSpec.code, 1);
  assert.match(notInSpec.stderr, /--agent b not in .*deploy\.json \(it has: a\)/);
});

test('agent: bad deadlines and a bad --store-reserve are refused naming the flag', () => {
  const base = ['agent', 'web-1', '--server', 'http://127.0.0.1:9'];
  const env = { DROVER_AGENT_TOKEN: 'x' };
  for (const [flag, value, expected] of [
    ['--activation-timeout', 'forever', /--activation-timeout "forever" is not a duration/],
    ['--confirm-timeout', '100ms', /--confirm-timeout "100ms" is out of range \(1s to 1h\)/],
    ['--store-reserve', 'lots', /--store-reserve "lots" is not a size \(e\.g\. 500M, 2G, or bytes\)/],
  ] as const) {
    const r = drover([...base, flag, value], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, expected);
  }
});

test('activate: bad --activation-timeout / --confirm-timeout are refused before any request', () => {
  const file = join(dir, 'deadlines.json');
  writeFileSync(file, JSON.stringify({ agents: { a: '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-system' } }));
  const r = drover(['activate', file, '--server', 'http://127.0.0.1:9', '--activation-timeout', 'soon', '--confirm-timeout', '2h'], {
    DROVER_ACTIVATE_TOKEN: 'x',
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /"activationTimeout" "soon" is not a duration.*"confirmTimeout" "2h" is out of range/);
  assert.doesNotMatch(r.stderr, /127\.0\.0\.1:9/, 'no request was made');
});

test('activate: an unreachable server is named, with exit code 1', () => {
  const spec = join(dir, 'deploy.json');
  const r = drover(['activate', spec, '--server', 'http://127.0.0.1:9'], { DROVER_ACTIVATE_TOKEN: 'x' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot reach the Drover server at http:\/\/127\.0\.0\.1:9/);
});

/** A data directory holding the server's database, as `drover server` leaves it after its first start. */
async function serverDataDir(path: string): Promise<string> {
  const database = await openDatabase({ dataDir: path });
  await migrateToLatest(database);
  await database.close();
  return path;
}

test('token create: an unknown kind is refused', () => {
  const r = drover(['token', 'create', '--kind', 'root', '--data-dir', join(dir, 'data')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Allowed choices are agent, activate, admin/);
});

test('token create: an agent token names its agent or asks for --unbound; token list shows which are unbound', async () => {
  const data = ['--data-dir', await serverDataDir(join(dir, 'data-binding'))];
  const missing = drover(['token', 'create', '--kind', 'agent', ...data]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /an agent token names its agent/);
  assert.match(missing.stderr, /--agent NAME/);
  const both = drover(['token', 'create', '--kind', 'agent', '--agent', 'web-1', '--unbound', ...data]);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /exclude each other/);
  const bound = drover(['token', 'create', '--kind', 'agent', '--agent', 'web-1', ...data]);
  assert.equal(bound.code, 0, bound.stderr);
  const unbound = drover(['token', 'create', '--kind', 'agent', '--unbound', ...data]);
  assert.equal(unbound.code, 0, unbound.stderr);
  assert.match(unbound.stderr, /unbound: its first connection claims the agent name/);
  const list = drover(['token', 'list', ...data]);
  assert.equal(list.code, 0, list.stderr);
  const row = (id: string) => list.stdout.split('\n').find((l) => l.startsWith(id)) ?? '';
  assert.match(row(bound.stdout.split('_')[2] ?? '?'), /\bweb-1\b/);
  assert.match(row(unbound.stdout.split('_')[2] ?? '?'), /\(unbound: first connection claims\)/);
  const json = drover(['token', 'list', '--json', ...data]);
  const bindings = (JSON.parse(json.stdout) as { agentBinding: string | null }[]).map((t) => t.agentBinding).sort();
  assert.deepEqual(bindings, ['bound', 'claim']);
});

test("deployments end: --reason is required, and its --server/--token are its own (not the list command's)", () => {
  const id = '00000000-0000-4000-8000-000000000000';
  const missing = drover(['deployments', 'end', id, '--server', 'http://127.0.0.1:1', '--token', 'x']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /required option '--reason <text>'/);
  const r = drover(['deployments', 'end', id, '--reason', 'the machine is gone', '--server', 'http://127.0.0.1:1', '--token', 'x']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot reach the Drover server at http:\/\/127\.0\.0\.1:1/);
});
