/**
 * The agent's state directory on a full file system (issue 14 §3; the unit
 * tests of packages/agent cover the agent and the runner against a fake
 * server), end to end: a real agent process whose --state-dir is a 8 MiB
 * tmpfs the test fills, a real `drover server` on SQLite, real Nix and
 * `drover activate`. While full, a deployment fails with a reason naming the
 * directory, ENOSPC and DROVER_ERR_AGENT_STATE_UNWRITABLE, the profile is not
 * touched, and the agent keeps running on its first connection; once space
 * returns the next deployment works without a restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteFromStore, mountSmallTmpfs, Teardown } from '@drover/test-support';
import { api, createToken, drover, makeBackend, startAgent, startServer, type DroverProcess, type ServerHandle } from '../support/drover.js';
import { bigPlainProfile } from './faults.js';
import { activePath, deploymentIds } from './harness.js';

const disk = mountSmallTmpfs({ size: '8m' });

describe('agent state directory on a full file system', { timeout: 300_000, skip: typeof disk === 'string' ? disk : false }, () => {
  if (typeof disk === 'string') return;
  let dir: string;
  let server: ServerHandle;
  let agent: DroverProcess;
  let activateToken: string;
  let profile: string;
  const paths: string[] = [];
  const teardown = new Teardown();
  const stateDir = join(disk.root, 'state');
  const activate = (path: string) =>
    drover(['activate', '-', '--server', server.url], { DROVER_ACTIVATE_TOKEN: activateToken }, JSON.stringify({ agents: { 'state-full': path } }));

  before(async () => {
    teardown.add(async () => disk.unmount());
    teardown.add(() => (process.env['DROVER_TEST_KEEP'] ? Promise.resolve() : deleteFromStore(paths))); // after the GC roots are gone
    dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), 'faults-agent-full-'));
    if (!process.env['DROVER_TEST_KEEP']) teardown.add(() => rm(dir, { recursive: true, force: true }));
    const backend = await makeBackend('sqlite', dir);
    server = await startServer(backend);
    teardown.add(() => server.stop());
    activateToken = await createToken(backend, 'activate');
    for (const name of ['state-a', 'state-b']) paths.push(await bigPlainProfile(dir, name, 1));
    profile = join(dir, 'profiles', 'system');
    const token = await createToken(backend, 'agent', ['--agent', 'state-full']);
    agent = await startAgent('state-full', { server: server.url, token, profile, stateDir });
    teardown.add(() => agent.stop('SIGKILL'));
    // Removed before the tmpfs is unmounted: the deployments' GC roots live in the state directory.
    teardown.add(() => rm(stateDir, { recursive: true, force: true }));
  });
  after(() => teardown.run());

  test('full: Failed naming the directory and the cause, agent still up and connected; freed: the next deployment works', async () => {
    const [a, b] = paths as [string, string];
    const first = await activate(a);
    assert.equal(first.code, 0, first.stdout + first.stderr);

    disk.fill();
    const failed = await activate(b);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, new RegExp(`Failed to deploy \\(#2.*state directory ${stateDir}.* is full \\(ENOSPC\\).*DROVER_ERR_AGENT_STATE_UNWRITABLE`));
    const id = deploymentIds(failed.stdout).get('state-full')!;
    const d = await api<{ status: string }>(server.url, activateToken, 'GET', `/deployments/${id}`);
    assert.equal(d.json.status, 'Failed');
    assert.equal(await activePath(profile), a, 'the profile was not touched');
    assert.equal(agent.running, true, 'the agent did not crash');
    const listed = await api<{ online: boolean }>(server.url, activateToken, 'GET', '/agents/state-full');
    assert.equal(listed.json.online, true);
    assert.equal((agent.output.match(/registered with the server/g) ?? []).length, 1, 'still on its first connection');

    disk.free();
    const again = await activate(b);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /Deployed successfully \(#3/);
    assert.equal(await activePath(profile), b);
    assert.equal((agent.output.match(/registered with the server/g) ?? []).length, 1, 'no reconnect was needed');
  });
});
