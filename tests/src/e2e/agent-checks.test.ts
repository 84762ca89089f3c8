/**
 * The agent's start-up self-checks and two agents with one name, end to
 * end: a real `drover server` (SQLite), real `drover agent` processes run as
 * the unprivileged user `nobody` (setpriv), without Nix on PATH, or in their
 * own UTS namespace with their own host name (unshare --uts). No deployment
 * reaches Nix here: an agent that cannot deploy fails it before.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { decodeAgent, type Agent, type Deployment } from '@drover/protocol';
import { sleep } from '@drover/test-support';
import {
  api,
  createToken,
  drover,
  makeBackend,
  onHost,
  randomName,
  spawnAgentVia,
  type DroverProcess,
  startServer,
  waitFor,
  type Backend,
  type ServerHandle,
} from '../support/drover.js';

/** A well-formed store path: the agents here refuse it before any Nix command runs. */
const SOME_PATH = '/nix/store/0000000000000000000000000000000a-never-fetched';
/** The uid/gid of `nobody` on Debian. */
const NOBODY = 65534;
const EXIT_SETUP = 78;

/** setpriv execs the agent itself (runuser would stay its parent, and a SIGKILL of it would leave the agent running). */
const asNobody = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'];
/** The exit status, or 'still running' after 30 s. */
const exitWithin = (p: DroverProcess) => Promise.race([p.exited, sleep(30_000).then(() => 'still running')]);

function assertNoStackTrace(output: string): void {
  assert.doesNotMatch(output, /^\s+at .+\(.+:\d+:\d+\)$/m, `no stack trace:\n${output}`);
  assert.doesNotMatch(output, /Uncaught|UnhandledPromiseRejection|node:internal/, output);
}

describe('agent self-checks and name conflicts', { timeout: 300_000 }, () => {
  let dir: string;
  let backend: Backend;
  let server: ServerHandle;
  let activateToken: string;
  const procs: DroverProcess[] = [];
  const track = (p: DroverProcess) => (procs.push(p), p);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-agent-checks-'));
    await chmod(dir, 0o755); // nobody walks through it to its own directories
    backend = await makeBackend('sqlite', dir);
    server = await startServer(backend);
    activateToken = await createToken(backend, 'activate');
  });
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL').catch(() => {});
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const agentToken = (name: string) => createToken(backend, 'agent', ['--agent', name]);
  const agentRow = async (name: string): Promise<Agent> => {
    const r = await api(server.url, activateToken, 'GET', `/agents/${name}`, undefined, decodeAgent);
    assert.equal(r.status, 200);
    return r.json;
  };
  /** A directory `nobody` owns. */
  const nobodyDir = async (name: string) => {
    const d = join(dir, name);
    await mkdir(d, { recursive: true });
    await chown(d, NOBODY, NOBODY);
    return d;
  };

  test('a non-writable HOME (default state dir) as a non-root user: exit 78 naming the directory and --state-dir, no stack trace', async () => {
    const name = randomName('nohome');
    const p = track(
      spawnAgentVia(`agent:${name}`, asNobody, [name, '--server', server.url], {
        PATH: process.env['PATH'],
        HOME: '/nonexistent',
        DROVER_AGENT_TOKEN: await agentToken(name),
      }),
    );
    assert.equal(await exitWithin(p), EXIT_SETUP, p.output);
    assert.match(p.output, /error: cannot write the agent's state directory \/nonexistent\/\.local\/state\/drover-agent\/.+ \((EACCES|ENOENT)/);
    assert.match(p.output, /pass --state-dir DIR/);
    assert.match(p.output, /hint: .*--state-dir/);
    assertNoStackTrace(p.output);
  });

  test('an explicit --state-dir the user cannot write: exit 78 naming it', async () => {
    const name = randomName('rostate');
    const stateDir = join(dir, 'root-only', name); // dir is 0755 root: nobody cannot create in it
    await mkdir(dirname(stateDir), { recursive: true, mode: 0o755 });
    const p = track(
      spawnAgentVia(`agent:${name}`, asNobody, [name, '--server', server.url, '--state-dir', stateDir], {
        PATH: process.env['PATH'],
        HOME: '/nonexistent',
        DROVER_AGENT_TOKEN: await agentToken(name),
      }),
    );
    assert.equal(await exitWithin(p), EXIT_SETUP, p.output);
    assert.match(p.output, new RegExp(`cannot write the agent's state directory ${stateDir} \\(EACCES`));
    assert.match(p.output, /pass a --state-dir this user can write/);
    assertNoStackTrace(p.output);
  });

  test('non-root with the default profile: connected, listed as "cannot deploy" with the reason, a deployment fails at once', async () => {
    const name = randomName('nonroot');
    const p = track(
      spawnAgentVia(`agent:${name}`, asNobody, [name, '--server', server.url, '--state-dir', join(await nobodyDir(name), 'state')], {
        PATH: process.env['PATH'],
        HOME: '/nonexistent',
        DROVER_AGENT_TOKEN: await agentToken(name),
      }),
    );
    await p.waitForOutput(/registered with the server/);
    assert.match(
      p.output,
      /cannot deploy: cannot write the profile's directory \/nix\/var\/nix\/profiles \(EACCES.*run the agent as root, or pass --profile PATH/,
    );
    const row = await agentRow(name);
    assert.equal(row.online, true);
    assert.equal(row.problems.length, 1, JSON.stringify(row.problems));
    assert.match(row.problems[0]!, /^cannot write the profile's directory \/nix\/var\/nix\/profiles .*--profile PATH/);

    const listed = await drover(['agents', '--server', server.url], { DROVER_ACTIVATE_TOKEN: activateToken });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${name}\\s+cannot deploy\\s`, 'm'));
    assert.match(listed.stdout, new RegExp(`^${name}: cannot deploy: cannot write the profile's directory /nix/var/nix/profiles`, 'm'));

    const started = Date.now();
    const activated = await api<{ agents: Record<string, { id: string }> }>(server.url, activateToken, 'POST', '/activate', { agents: { [name]: SOME_PATH } });
    assert.equal(activated.status, 201, JSON.stringify(activated.json));
    const id = activated.json.agents[name]!.id;
    const failed = await waitFor(
      'the deployment to fail',
      async () => {
        const d = (await api<Deployment>(server.url, activateToken, 'GET', `/deployments/${id}`)).json;
        return d.status === 'Failed' ? d : null;
      },
      20_000,
      100,
    );
    assert.ok(Date.now() - started < 10_000, 'fails at once, not after a timeout');
    assert.match(
      failed.reason ?? '',
      /this agent cannot deploy \(DROVER_ERR_AGENT_CANNOT_DEPLOY\): cannot write the profile's directory .*the profile was not changed/,
    );
    assert.ok(p.running, 'the agent keeps running');
    assertNoStackTrace(p.output);
  });

  test('no Nix on PATH: connected, the reason says so', async () => {
    const name = randomName('nonix');
    const emptyPath = join(dir, 'empty-bin');
    await mkdir(emptyPath, { recursive: true });
    const p = track(
      spawnAgentVia(
        `agent:${name}`,
        [],
        [name, '--server', server.url, '--state-dir', join(dir, name, 'state'), '--profile', join(dir, name, 'profiles', 'system')],
        {
          PATH: emptyPath,
          HOME: dir,
          DROVER_AGENT_TOKEN: await agentToken(name),
        },
      ),
    );
    await p.waitForOutput(/registered with the server/);
    const row = await agentRow(name);
    assert.deepEqual(
      row.problems.map((x) => x.replace(/PATH=[^)]*/, 'PATH=…')),
      [
        "Nix is not on PATH (nix, nix-store, nix-env not found in PATH=…): install Nix 2.8 or newer, or start the agent with Nix's bin directory on PATH (e.g. /nix/var/nix/profiles/default/bin)",
      ],
    );
    assertNoStackTrace(p.output);
  });

  test('two agents with one name on two hosts: the second wins, the first logs one line naming it and stays away, the API flags the conflict', async () => {
    const name = randomName('twin');
    const token = await agentToken(name);
    const start = (host: string) =>
      track(
        spawnAgentVia(
          `agent:${name}@${host}`,
          onHost(host),
          [name, '--server', server.url, '--state-dir', join(dir, host, 'state'), '--profile', join(dir, host, 'profiles', 'system')],
          { PATH: process.env['PATH'], HOME: dir, DROVER_AGENT_TOKEN: token },
        ),
      );
    const first = start('host-a');
    await first.waitForOutput(/registered with the server/);
    const second = start('host-b');
    await second.waitForOutput(/registered with the server/);
    await first.waitForOutput(/replaced it \(4409 DROVER_ERR_AGENT_REPLACED\): replaced by a newer connection of the same agent from host host-b/);
    assert.match(first.output, /Retrying in 600s/);
    await sleep(4000); // with the old 1 s backoff, the two would have swapped several times by now
    const count = (out: string, re: RegExp) => out.split('\n').filter((l) => re.test(l)).length;
    assert.equal(count(first.output, /registered with the server/), 1, first.output);
    assert.equal(count(first.output, /DROVER_ERR_AGENT_REPLACED/), 1, 'one log line');
    assert.equal(count(second.output, /registered with the server/), 1, second.output);
    assert.equal(count(second.output, /DROVER_ERR_AGENT_REPLACED/), 0);
    assert.ok(first.running, 'the replaced agent waits, it does not exit');
    const row = await agentRow(name);
    assert.equal(row.online, true);
    assert.equal(row.hostname, 'host-b');
    assert.ok(row.conflict, 'conflict flagged');
    assert.deepEqual(row.conflict.hostnames, ['host-a', 'host-b']);
    assert.ok(Date.now() - Date.parse(row.conflict.at) < 60_000);
    const listed = await drover(['agents', '--server', server.url], { DROVER_ACTIVATE_TOKEN: activateToken });
    assert.match(listed.stdout, new RegExp(`^${name}: name conflict: .* from host host-b replaced the one from host host-a`, 'm'));
  });

  test('one agent reconnecting from its own host is no conflict', async () => {
    const name = randomName('again');
    const token = await agentToken(name);
    const args = [name, '--server', server.url, '--state-dir', join(dir, name, 'state'), '--profile', join(dir, name, 'profiles', 'system')];
    const env = { PATH: process.env['PATH'], HOME: dir, DROVER_AGENT_TOKEN: token };
    const a = track(spawnAgentVia(`agent:${name}`, [], args, env));
    await a.waitForOutput(/registered with the server/);
    await a.stop('SIGKILL');
    const b = track(spawnAgentVia(`agent:${name}#2`, [], args, env));
    await b.waitForOutput(/registered with the server/);
    assert.equal((await agentRow(name)).conflict, null);
  });
});
