/**
 * `drover agent --bootstrap` end to end with real Nix: a hand-started agent
 * takes the first deployment; while it runs, the service-managed agent that
 * deployment installs connects with the same name and state directory; the
 * bootstrap agent exits 0 without reconnecting, and the deployment's outcome
 * reaches the server exactly once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from '@drover/test-support';
import { createToken, startAgent } from '../support/drover.js';
import { activePath, deploymentIds, World } from './harness.js';

const lines = (out: string, re: RegExp) => out.split('\n').filter((l) => re.test(l));

describe('drover agent --bootstrap', { timeout: 600_000 }, () => {
  const world = new World('sqlite');
  before(() => world.setUp());
  after(() => world.tearDown());

  test('exits 0 once the service-managed agent of its name connected; the running deployment is reported once', async () => {
    const f = world.fixtures;
    const name = 'boot-1';
    const token = await createToken(world.backend, 'agent', ['--agent', name]);
    const boot = await world.agent({ name, token, extraArgs: ['--bootstrap'] });
    const r = await world.activate([await world.specFile({ [name]: f.nixos_slow }), '--async']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const id = deploymentIds(r.stdout).get(name)!;
    await world.waitForStatus(id, 'InProgress');

    // What the first deployment installs: the agent under its service manager, same name, token and state directory.
    const service = world.track(await startAgent(name, { server: world.server.url, token, profile: boot.profile, stateDir: boot.stateDir }));
    const code = await Promise.race([boot.proc.exited, sleep(30_000).then(() => 'still running')]);
    assert.equal(code, 0, boot.proc.output);
    assert.match(boot.proc.output, /bootstrap done: the agent of this name connected in its place/);
    assert.equal(lines(boot.proc.output, /registered with the server/).length, 1, 'the bootstrap agent never reconnected');
    assert.equal(lines(boot.proc.output, /DROVER_ERR_AGENT_REPLACED/).length, 0, 'a handover, not a conflict');

    const done = await world.waitForStatus(id, 'Succeeded', 90_000);
    assert.equal(done.reason, null);
    assert.equal(await activePath(boot.profile), f.nixos_slow);
    await sleep(1000); // a second report would come within the outbox's poll
    const reports = lines(world.server.proc.output, /"msg":"deployment finished"/).filter((l) => l.includes(id));
    assert.equal(reports.length, 1, `one outcome report:\n${reports.join('\n')}`);
    assert.ok(service.running);
    assert.equal(lines(service.output, /DROVER_ERR_AGENT_REPLACED/).length, 0);
  });
});
