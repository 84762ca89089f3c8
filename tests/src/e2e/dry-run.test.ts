/**
 * `drover activate --dry` end to end (issue 15, dry run): a real `drover
 * server` (SQLite), real agents, real Nix substitution from a signed cache.
 * A NixOS-like fixture (nixos_dry) whose `switch-to-configuration
 * dry-activate` prints NixOS's "would stop/reload/restart/start" lines: the
 * agent fetches it, runs only the dry activation, switches nothing (the
 * profile and its generations unchanged), and activate's summary, the API
 * and --json name the units. A plain profile's dry run succeeds with no
 * switch and says only the diff is known.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Agent, Deployment } from '@drover/protocol';
import { api } from '../support/drover.js';
import { isInStore, readActivations } from '../support/nix.js';
import { activePath, deploymentIds, generations, World } from './harness.js';

describe('activate --dry', { timeout: 600_000 }, () => {
  const world = new World('sqlite');
  before(() => world.setUp());
  after(() => world.tearDown());

  const agentInfo = async (name: string): Promise<Agent> => (await api<Agent>(world.server.url, world.activateToken, 'GET', `/agents/${name}`)).json;

  test('NixOS: the closure is fetched, only dry-activate runs, nothing is switched; the summary and the API name the units', async () => {
    const dryPath = await world.extraFixture('nixos_dry');
    const agent = await world.agent();
    const first = await world.activate([await world.specFile({ [agent.name]: world.fixtures.nixos })]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const before = await generations(agent.profile);
    const latest = (await agentInfo(agent.name)).lastDeployment;

    const r = await world.activate([await world.specFile({ [agent.name]: dryPath }), '--dry']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Dry run: the agents fetch the closures .* nothing is switched/);
    assert.match(r.stdout, /would restart the following units: sshd\.service/, 'the dry output is the log');
    assert.match(
      r.stdout,
      /Dry run completed \(#2 in [^)]+\), nothing switched: would stop old-app\.service; reload dbus\.service, nginx\.service; restart sshd\.service, systemd; start new-app\.service, old-app\.service; changes: \+1 −1 ~0 packages, \+\d+ B$/m,
    );

    const d = await world.deployment(deploymentIds(r.stdout).get(agent.name)!);
    assert.equal(d.status, 'Succeeded');
    assert.equal(d.dry, true);
    assert.deepEqual(d.wouldRestart, {
      stop: ['old-app.service'],
      reload: ['dbus.service', 'nginx.service'],
      restart: ['sshd.service', 'systemd'],
      start: ['new-app.service', 'old-app.service'],
    });
    assert.ok(isInStore(dryPath), 'the agent substituted the closure');
    assert.equal(await activePath(agent.profile), world.fixtures.nixos, 'the profile still points to the old system');
    assert.deepEqual(await generations(agent.profile), before, 'no new generation');
    const calls = await readActivations(world.fixtures.markerDir);
    assert.ok(calls.includes(`nixos dry-activate ${dryPath}`), calls.join('\n'));
    assert.ok(!calls.some((l) => l.startsWith('nixos switch ') && l.endsWith(dryPath)), 'switch-to-configuration switch never ran');
    const seen = await agentInfo(agent.name);
    assert.equal(seen.currentStorePath, world.fixtures.nixos);
    assert.equal(seen.lastDeployment?.id, latest?.id, 'the dry run is not the agent’s latest deployment');
  });

  test('a dry activation that fails fails the dry run; nothing is switched and nothing rolled back', async () => {
    const agent = await world.agent();
    const first = await world.activate([await world.specFile({ [agent.name]: world.fixtures.nixos })]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const before = await generations(agent.profile);
    const r = await world.activate([await world.specFile({ [agent.name]: world.fixtures.nixos_failing }), '--dry']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /Dry run failed \(#2 in [^)]+\): .*switch-to-configuration dry-activate.*; nothing was switched; changes: \+1 −1 ~0 packages, \+\d+ B$/m,
    );
    const d = await world.deployment(deploymentIds(r.stdout).get(agent.name)!);
    assert.equal(d.status, 'Failed');
    assert.equal(d.wouldRestart, null);
    assert.ok(!(await world.logOf(d.id)).some((l) => l.text.startsWith('rolling back')), 'nothing to roll back');
    assert.equal(await activePath(agent.profile), world.fixtures.nixos);
    assert.deepEqual(await generations(agent.profile), before);
  });

  test('a plain profile: the dry run succeeds with no switch and says only the diff is known (--json)', async () => {
    const agent = await world.agent();
    const r = await world.activate([await world.specFile({ [agent.name]: world.fixtures.plain }), '--dry', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const [d] = JSON.parse(r.stdout) as Deployment[];
    assert.ok(d);
    assert.equal(d.status, 'Succeeded');
    assert.equal(d.dry, true);
    assert.equal(d.wouldRestart, null);
    assert.match(d.reason ?? '', /^dry run, nothing was switched: a plain profile has no dry activation; only the closure diff tells what would change$/);
    assert.ok(isInStore(world.fixtures.plain), 'the agent substituted the closure');
    assert.equal(await activePath(agent.profile), null, 'the profile was never created');
    assert.deepEqual(await generations(agent.profile), []);
  });

  test('home-manager runs activate with DRY_RUN=1 (its log only), nix-darwin has no dry activation; neither profile is set', async () => {
    const hm = await world.agent();
    const darwin = await world.agent();
    const spec = await world.specFile({ [hm.name]: world.fixtures.home_manager, [darwin.name]: world.fixtures.darwin });
    const r = await world.activate([spec, '--dry', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const byAgent = new Map((JSON.parse(r.stdout) as Deployment[]).map((d) => [d.agent, d]));
    const h = byAgent.get(hm.name);
    assert.equal(h?.status, 'Succeeded');
    assert.equal(h.wouldRestart, null);
    assert.equal(h.reason, 'dry run, nothing was switched: see the log for what home-manager would do');
    const hmLog = (await world.logOf(h.id)).map((l) => l.text);
    assert.ok(
      hmLog.some((l) => l.startsWith('dry run: asking the home-manager configuration what a switch would do (with DRY_RUN=1)')),
      hmLog.join('\n'),
    );
    assert.ok(hmLog.includes(`$ ${world.fixtures.home_manager}/activate`), hmLog.join('\n'));
    const dw = byAgent.get(darwin.name);
    assert.equal(dw?.status, 'Succeeded');
    assert.match(dw.reason ?? '', /nix-darwin has no dry activation; only the closure diff tells what would change$/);
    const calls = await readActivations(world.fixtures.markerDir);
    assert.ok(!calls.some((l) => l.startsWith('darwin ')), 'darwin-rebuild never ran');
    for (const agent of [hm, darwin]) assert.equal(await activePath(agent.profile), null, `${agent.name}: the profile was never set`);
  });
});
