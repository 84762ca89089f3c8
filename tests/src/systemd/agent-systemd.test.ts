/**
 * The agent under a real systemd (issue 14 §1): `drover-agent.service` as
 * the NixOS module yields it, in a systemd-nspawn container (PID 1 is
 * systemd), deploying from the real server and binary cache on the host's
 * 127.0.0.1 with real Nix:
 *
 *  - a switch that restarts drover-agent.service (the module's unit as it
 *    is, KillMode=process) finishes and is reported;
 *  - with systemd's default KillMode=control-group (a drop-in) it still
 *    does, because the runner runs in a scope of its own; with
 *    `--runner-scope off` (DROVER_RUNNER_SCOPE=off) the same deployment is
 *    killed — so this fails if the runner starts in the unit's cgroup;
 *  - `kill -9` of the agent's main process: Restart=always brings it back,
 *    the outcome is reported, the profile lock is not left behind;
 *  - `systemctl stop` during a deployment: the runner finishes on its own,
 *    the profile is fully switched, the next start reports it.
 * The last two run under KillMode=control-group too: they hold whatever the
 * unit's KillMode. And a systemd-run that fails (no bus) falls back to the
 * agent's own cgroup with one warning.
 *
 * Root and systemd-nspawn are needed (scripts/setup-systemd.sh); without
 * them the suite skips with one line, except with CI=true.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Deployment } from '@drover/protocol';
import { nixModuleTrees, runOk } from '@drover/test-support';
import { activePath, deploymentIds, World } from '../e2e/harness.js';
import { deleteFromStore, readActivations, repoRoot } from '../support/nix.js';
import { waitFor } from '../support/drover.js';
import { systemdRootfs } from '../support/nspawn.js';
import { AGENT_UNIT, AgentMachine } from './agent-machine.js';

const found = await systemdRootfs();
const trees = found.skip === false ? await nixModuleTrees() : undefined;
const skip = found.skip !== false ? found.skip : (trees?.skip ?? false);

const CONTROL_GROUP = '[Service]\nKillMode=control-group\n';

describe('the agent under a real systemd (systemd-nspawn)', { skip, timeout: 20 * 60_000 }, () => {
  const world = new World('sqlite');
  const machines: AgentMachine[] = [];
  let restartsAgent: string;

  before(
    async () => {
      await world.setUp();
      const built = await runOk('nix-build', [
        join(repoRoot(), 'tests', 'fixtures', 'systemd-fixtures.nix'),
        '--no-out-link',
        '--argstr',
        'salt',
        world.dir,
        '--argstr',
        'markerDir',
        world.fixtures.markerDir,
        '-A',
        'restarts_agent',
      ]);
      restartsAgent = built.stdout.trim();
      await world.cache.push([restartsAgent]);
      await deleteFromStore([restartsAgent]);
    },
    { timeout: 10 * 60_000 },
  );
  after(async () => {
    for (const m of machines) await m.stop().catch(() => undefined);
    await world.tearDown();
  });

  async function machine(dropIn?: string): Promise<AgentMachine> {
    const m = await AgentMachine.start(world, found.rootfs!, dropIn === undefined ? {} : { dropIn });
    machines.push(m);
    return m;
  }

  async function deploy(m: AgentMachine, storePath: string): Promise<string> {
    const r = await world.activate([await world.specFile({ [m.name]: storePath }), '--async']);
    const id = deploymentIds(r.stdout).get(m.name);
    assert.ok(id, `activate printed no deployment for ${m.name}:\n${r.stdout}${r.stderr}`);
    return id;
  }

  async function finished(id: string, timeoutMs: number): Promise<Deployment> {
    return waitFor(
      `deployment ${id} to finish`,
      async () => {
        const d = await world.deployment(id);
        return d.status === 'Succeeded' || d.status === 'Failed' || d.status === 'Cancelled' ? d : null;
      },
      timeoutMs,
      250,
    );
  }

  async function markers(): Promise<string[]> {
    return readActivations(world.fixtures.markerDir);
  }

  /** Deploys the fixture that restarts drover-agent.service; returns the outcome and whether the agent was restarted. */
  async function deployRestartingAgent(m: AgentMachine): Promise<{ deployment: Deployment; restarted: boolean }> {
    const before = await m.unit('InvocationID');
    const id = await deploy(m, restartsAgent);
    const deployment = await finished(id, 150_000);
    await waitFor(`${AGENT_UNIT} to be active again`, async () => (await m.unit('ActiveState')) === 'active', 30_000, 250);
    return { deployment, restarted: (await m.unit('InvocationID')) !== before };
  }

  test('a switch that restarts drover-agent.service: Succeeded, the profile switched, the switch ran to its end', { timeout: 240_000 }, async () => {
    const m = await machine();
    assert.equal(await m.unit('KillMode'), 'process', 'the NixOS module yields KillMode=process');
    const { deployment, restarted } = await deployRestartingAgent(m);
    assert.equal(deployment.status, 'Succeeded', `reason: ${deployment.reason}\n${await m.container.journal(AGENT_UNIT)}`);
    assert.ok(restarted, 'the switch restarted the agent unit');
    assert.equal(await activePath(m.profile), restartsAgent);
    assert.ok((await markers()).includes(`restarts-agent switch ${restartsAgent} finished`));
    await m.waitForJournal(/"runners":"scope"/, 5000);
  });

  test('KillMode=control-group: the runner in a scope of its own survives the restart by the switch', { timeout: 240_000 }, async () => {
    const m = await machine(CONTROL_GROUP);
    assert.equal(await m.unit('KillMode'), 'control-group');
    const { deployment, restarted } = await deployRestartingAgent(m);
    assert.equal(deployment.status, 'Succeeded', `reason: ${deployment.reason}\n${await m.container.journal(AGENT_UNIT)}`);
    assert.ok(restarted);
    assert.equal(await activePath(m.profile), restartsAgent);
    await m.waitForNoRunnerScope();
  });

  test('KillMode=control-group with --runner-scope off: the same restart kills the deployment', { timeout: 240_000 }, async () => {
    const m = await machine(`${CONTROL_GROUP}Environment=DROVER_RUNNER_SCOPE=off\n`);
    await m.waitForJournal(/"runners":"direct"/, 5000);
    const before = (await markers()).length;
    const { deployment, restarted } = await deployRestartingAgent(m);
    assert.ok(restarted);
    assert.equal(deployment.status, 'Failed', `the runner (or its switch) was killed with the unit; reason: ${deployment.reason}`);
    const after = (await markers()).slice(before);
    assert.ok(after.some((l) => l.endsWith(`${restartsAgent} begins`)));
    assert.ok(!after.some((l) => l.endsWith(`${restartsAgent} finished`)), `the switch never got past the restart: ${after.join('\n')}`);
  });

  test("systemd-run failing (no bus to talk to): one warning, the deployment runs in the agent unit's cgroup and succeeds", { timeout: 240_000 }, async () => {
    const m = await machine('[Service]\nInaccessiblePaths=/run/systemd/private /run/dbus/system_bus_socket\n');
    await m.waitForJournal(/"runners":"scope"/, 5000);
    const first = await deploy(m, world.fixtures.nixos);
    assert.equal((await finished(first, 90_000)).status, 'Succeeded');
    const second = await deploy(m, world.fixtures.nixos_b);
    assert.equal((await finished(second, 90_000)).status, 'Succeeded');
    assert.equal(await activePath(m.profile), world.fixtures.nixos_b);
    const warnings = (await m.container.journal(AGENT_UNIT)).match(/systemd-run could not start the deployment in a scope/g) ?? [];
    assert.equal(warnings.length, 1, 'warned once, then later runners start directly without trying again');
  });

  test('kill -9 of the agent under Restart=always (KillMode=control-group): restarted, the outcome reported, no stale lock', { timeout: 240_000 }, async () => {
    const m = await machine(CONTROL_GROUP);
    const slow = world.fixtures.nixos_slow;
    const id = await deploy(m, slow);
    await waitFor('the slow activation to begin', async () => (await markers()).some((l) => l === `nixos switch ${slow}`), 60_000, 200);
    const pid = await m.unit('MainPID');
    await m.container.execOk(['sh', '-c', 'kill -9 "$1"', 'sh', pid]);
    await waitFor(
      'systemd to restart the agent',
      async () => (await m.unit('ActiveState')) === 'active' && !['0', pid].includes(await m.unit('MainPID')),
      30_000,
      250,
    );
    assert.equal(await m.unit('NRestarts'), '1');
    const deployment = await finished(id, 90_000);
    assert.equal(deployment.status, 'Succeeded', `reason: ${deployment.reason}`);
    assert.equal(await activePath(m.profile), slow);
    assert.ok(!existsSync(m.lockFile), `${m.lockFile} was left behind`);
    const next = await deploy(m, world.fixtures.nixos);
    assert.equal((await finished(next, 90_000)).status, 'Succeeded');
    assert.ok(!(await world.logOf(next)).some((l) => l.text.includes('waiting for the deployment in process')), 'the next deployment did not wait on a lock');
  });

  test(
    'systemctl stop during a deployment (KillMode=control-group): the runner finishes, the profile is fully switched, the next start reports',
    { timeout: 240_000 },
    async () => {
      const m = await machine(CONTROL_GROUP);
      const slow = world.fixtures.nixos_slow;
      const id = await deploy(m, slow);
      await waitFor('the slow activation to begin', () => m.journalOf(id).includes('activating slowly'), 60_000, 200);
      await m.container.execOk(['systemctl', 'stop', AGENT_UNIT], { timeoutMs: 30_000 });
      assert.equal(await m.unit('ActiveState'), 'inactive');
      await waitFor('the runner to finish while the agent is stopped', () => m.journalOf(id).includes('"deployment.finished"'), 60_000, 200);
      const journal = m.journalOf(id);
      assert.match(journal, /slow activation finished/, 'the activation ran to its end');
      assert.match(journal, /"status":"Succeeded"/);
      assert.equal(await activePath(m.profile), slow, 'the profile points at what was activated');
      assert.equal((await world.deployment(id)).status, 'InProgress', 'nobody reported it while the agent was stopped');
      await m.waitForNoRunnerScope();
      await m.container.execOk(['systemctl', 'start', AGENT_UNIT]);
      assert.equal((await finished(id, 60_000)).status, 'Succeeded');
    },
  );
});
