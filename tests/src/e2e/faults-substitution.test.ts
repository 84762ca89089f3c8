/**
 * Faults while an agent substitutes a closure (issue 14 §3), end to end: real
 * Nix fetching a 16 MiB plain profile from the workspace's external cache
 * through test-support's TCP proxy (bandwidth-limited so the download takes
 * seconds), a real `drover server` on SQLite and real agents.
 *
 *  - The network between agent and cache is cut mid-download: the deployment
 *    fails with a reason naming the fetch, the profile is untouched, nothing
 *    half-fetched is in the store, the agent stays connected; after the
 *    network returns the same deployment works.
 *  - The agent is SIGKILLed mid-download: the detached runner finishes the
 *    deployment alone, and the next agent start reports its outcome.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deleteFromStore, isInStore, startTcpProxy, waitFor, type TcpProxy } from '@drover/test-support';
import { drover, spawnDrover } from '../support/drover.js';
import { bigPlainProfile, within } from './faults.js';
import { activePath, deploymentIds, World } from './harness.js';

const MIB = 16;
/** 4 MiB/s: the 16 MiB download takes about 4 s. */
const RATE = 4 * 1024 * 1024;

describe('faults during substitution', { timeout: 300_000 }, () => {
  const world = new World('sqlite');
  let proxy: TcpProxy;
  let big: string[];

  before(async () => {
    await world.setUp();
    big = [await bigPlainProfile(world.dir, 'big-a', MIB), await bigPlainProfile(world.dir, 'big-b', MIB)];
    await world.cache.push(big);
    await deleteFromStore(big);
    proxy = await startTcpProxy(Number(new URL(world.cache.url).port), { bytesPerSecond: RATE });
    world.onTearDown(() => proxy.close());
    const r = await drover(['workspace', 'cache', 'default', '--substituter', proxy.url, '--public-key', world.cache.publicKey, ...world.backend.flags]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await world.tearDown();
    if (!process.env['DROVER_TEST_KEEP']) await deleteFromStore(big); // once the agents' GC roots under world.dir are gone
  });

  /** `drover activate` of `path` on `agent`, running in the background. */
  async function startActivate(agent: string, path: string) {
    return world.track(
      spawnDrover('activate', ['activate', await world.specFile({ [agent]: path }), '--server', world.server.url], {
        DROVER_ACTIVATE_TOKEN: world.activateToken,
      }),
    );
  }

  /** Waits until the proxy has passed `bytes` more than now: the NAR is being downloaded. */
  async function midDownload(bytes: number): Promise<void> {
    const start = proxy.bytes();
    await waitFor(`${bytes} bytes through the proxy`, () => proxy.bytes() - start >= bytes, 60_000, 20);
  }

  test('network cut between agent and cache mid-download: Failed naming the fetch, profile untouched; works after restore', async () => {
    const f = world.fixtures;
    const agent = await world.agent();
    const first = await world.activate([await world.specFile({ [agent.name]: f.plain })]);
    assert.equal(first.code, 0, first.stdout + first.stderr);

    proxy.shape({ bytesPerSecond: RATE });
    const activate = await startActivate(agent.name, big[0]!);
    await activate.waitForOutput(/\$ nix-store --realise/);
    await midDownload(2 * 1024 * 1024);
    proxy.cut('reset');
    assert.equal(await within(60_000, 'drover activate to exit', activate.exited), 1, activate.output);
    assert.match(activate.output, new RegExp(`Failed to deploy \\(#2.*could not fetch ${big[0]!}: .+; the profile was not changed`));
    const id = deploymentIds(activate.output).get(agent.name)!;
    const failed = await world.deployment(id);
    assert.equal(failed.status, 'Failed');
    assert.equal(await activePath(agent.profile), f.plain, 'the profile still points to the previous path');
    assert.equal(isInStore(big[0]!), false, 'nothing half-fetched is valid in the store');
    assert.equal(agent.proc.running, true);
    assert.doesNotMatch(agent.proc.output, /Uncaught|TypeError|at .*\.js:\d+/, 'no stack trace in the agent log');

    proxy.restore();
    proxy.shape({ bytesPerSecond: undefined });
    const again = await world.activate([await world.specFile({ [agent.name]: big[0]! })]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /Deployed successfully \(#3/);
    assert.equal(await activePath(agent.profile), big[0]);
  });

  test('agent SIGKILLed mid-download: the runner finishes alone and the next agent start reports the outcome', async () => {
    const agent = await world.agent();
    proxy.shape({ bytesPerSecond: RATE });
    const activate = await startActivate(agent.name, big[1]!);
    await activate.waitForOutput(/\$ nix-store --realise/);
    await midDownload(2 * 1024 * 1024);
    await agent.proc.stop('SIGKILL');
    const id = deploymentIds(activate.output).get(agent.name)!;
    // The runner goes on without its agent: the download completes and the profile is switched while no agent runs.
    await waitFor('the runner to switch the profile', async () => (await activePath(agent.profile)) === big[1], 120_000, 200);
    assert.equal((await world.deployment(id)).status, 'InProgress', 'nobody has reported the outcome yet');
    await agent.restart();
    const done = await world.waitForStatus(id, 'Succeeded', 30_000);
    assert.equal(await within(30_000, 'drover activate to exit', activate.exited), 0, activate.output);
    assert.match(activate.output, /Deployed successfully \(#1/);
    assert.equal(done.storePath, big[1]);
    assert.equal(await activePath(agent.profile), big[1]);
  });
});
