/** The rollout flags of `drover activate` / `drover deploy` as deploy.json's `rollout`, the /activate query, and the per-wave summary. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Deployment, DeploySpec } from '@drover/protocol';
import { activatePath, byWave, waveHeading, withRollout } from '../src/commands/activate-rollout.js';

const spec = { agents: { 'web-1': '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-system' } } as unknown as DeploySpec;

test('no rollout flag leaves the spec as it is', () => {
  assert.equal(withRollout(spec, {}), spec);
});

test("--waves and the other flags make the rollout, over the file's own key by key", () => {
  assert.deepEqual(withRollout(spec, { waves: '1,10%,100%', maxParallel: '5', maxFailures: '5%', pause: '2m', onFailure: 'rollback' }).rollout, {
    waves: [{ count: 1 }, { percent: 10 }, { percent: 100 }],
    maxParallel: 5,
    maxFailures: '5%',
    pause: '2m',
    onFailure: 'rollback',
  });
  assert.deepEqual(withRollout(spec, { maxFailures: '2' }).rollout, { waves: [{ percent: 100 }], maxFailures: 2 }, 'one wave of all without --waves');
  const inFile = { ...spec, rollout: { waves: [{ selector: 'role=web' }, { percent: 100 }], pause: '1m' } } as DeploySpec;
  assert.deepEqual(withRollout(inFile, { maxParallel: '3' }).rollout, { waves: [{ selector: 'role=web' }, { percent: 100 }], pause: '1m', maxParallel: 3 });
});

test('bad rollout flags are refused before anything is sent', () => {
  assert.throws(() => withRollout(spec, { maxParallel: '0' }), /--max-parallel "0"/);
  assert.throws(() => withRollout(spec, { maxFailures: 'some' }), /--max-failures "some"/);
  assert.throws(() => withRollout(spec, { onFailure: 'retry' }), /--on-failure "retry"/);
  assert.throws(() => withRollout(spec, { pause: 'soon' }), /"pause" must be a duration/);
  assert.throws(() => withRollout(spec, { waves: '10%,x' }), /"x" is neither a count/);
});

test('the /activate query carries --on, --force and --no-cache-check', () => {
  assert.equal(activatePath({}), '/activate');
  assert.equal(
    activatePath({ on: 'role=web,region!=eu', force: true, cacheCheck: false }),
    '/activate?cacheCheck=false&on=role%3Dweb%2Cregion%21%3Deu&force=true',
  );
});

test('the summary groups agents per wave in order, with counts by status', () => {
  const groups = byWave<{ wave: number | null }>(
    [
      ['c', { wave: 1 }],
      ['a', { wave: 0 }],
      ['b', { wave: 1 }],
    ],
    (a) => a.wave,
  );
  assert.deepEqual(
    groups.map(([w, members]) => [w, members.map(([n]) => n)]),
    [
      [0, ['a']],
      [1, ['c', 'b']],
    ],
  );
  const d = (status: Deployment['status']) => ({ status }) as Deployment;
  assert.equal(waveHeading(1, [d('Held'), d('Held'), d('Failed')]), 'Wave 2 (3 agents): 2 Held, 1 Failed');
});
