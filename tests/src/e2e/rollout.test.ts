/**
 * A staged rollout with real agents on SQLite: the agent of wave 1 fails its
 * activation, so the rollout stops over its budget (maxFailures 0), the
 * agents of wave 2 are Held and never touched, and `drover activate` exits 1
 * with a summary per wave. Then `--on` and unchanged: activating the same
 * path again leaves the agents that run it alone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomName } from '../support/drover.js';
import { activePath, World } from './harness.js';

describe('staged rollout with real agents', { timeout: 300_000 }, () => {
  const world = new World('sqlite');
  before(() => world.setUp());
  after(() => world.tearDown());

  test('a failing wave-1 agent stops the rollout: later agents are Held, activate exits 1 with a summary per wave', async () => {
    const f = world.fixtures;
    const base = randomName('roll');
    // Name order decides the waves: a- first (wave 1, one agent), then b- and c-.
    const [first, second, third] = await Promise.all(['a', 'b', 'c'].map((p) => world.agent({ name: `${p}-${base}` })));
    const spec = await world.specFile({ [first!.name]: f.nixos_failing, [second!.name]: f.nixos, [third!.name]: f.nixos });
    const r = await world.activate([spec, '--waves', '1,100%', '--max-failures', '0', '--timeout', '4m']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^Deploying 3 agents in 2 waves \(activation [0-9a-f-]{36}\):$/m);
    assert.match(r.stdout, /^Activation page: \S+\/w\/default\/activations\/[0-9a-f-]{36}$/m);
    assert.match(r.stdout, /^Wave 1 \(1 agent\): 1 Failed$/m);
    assert.match(r.stdout, /^Wave 2 \(2 agents\): 2 Held$/m);
    for (const agent of [second!, third!]) {
      assert.match(r.stdout, new RegExp(`^\\[${agent.name}\\]\\s+Held, never started \\(#1\\): held: the rollout stopped`, 'm'));
      assert.equal(await activePath(agent.profile), null, `${agent.name} was never deployed`);
    }
  });

  test('agents already on the path are unchanged (success, exit 0); --force deploys them again', async () => {
    const f = world.fixtures;
    const agent = await world.agent();
    const spec = await world.specFile({ [agent.name]: f.nixos });
    assert.equal((await world.activate([spec])).code, 0);
    const again = await world.activate([spec]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, new RegExp(`^\\[${agent.name}\\]\\s+unchanged: already on ${f.nixos}`, 'm'));
    const forced = await world.activate([spec, '--force']);
    assert.equal(forced.code, 0, forced.stdout + forced.stderr);
    assert.match(forced.stdout, /Deployed successfully \(#2/);
  });
});
