/** deploy.json's `rollout`: every problem with its pointer, `--waves` parsing, and the failure budget. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deploySpecProblems, failureAllowance, parseWavesFlag, rolloutProblems, waveLabel } from '../src/index.js';

const agents = { 'web-1': '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-system' };

test('a valid rollout has no problems, and the Cachix fields stay valid beside it', () => {
  const rollout = {
    waves: [{ agents: ['web-1'] }, { selector: 'role=web' }, { percent: 100 }],
    maxParallel: 50,
    maxFailures: '5%',
    pause: '2m',
    onFailure: 'rollback',
  };
  assert.deepEqual(rolloutProblems(rollout), []);
  assert.deepEqual(deploySpecProblems({ agents, rollbackScript: null, rollout }), []);
  assert.deepEqual(deploySpecProblems({ agents, rollout: { waves: [{ count: 1 }], maxFailures: 0 } }), []);
});

test('every problem of a rollout is listed with a JSON pointer under /rollout', () => {
  const problems = deploySpecProblems({
    agents,
    rollout: {
      waves: [{ agents: [] }, { selector: 'role=web', percent: 5 }, { percent: 101 }, { count: 0 }, 'x'],
      maxParallel: 0,
      maxFailures: '5',
      pause: 'soon',
      onFailure: 'retry',
      extra: 1,
    },
  });
  assert.deepEqual(
    problems.map((p) => p.path),
    [
      '/rollout/extra',
      '/rollout/waves/0/agents',
      '/rollout/waves/1',
      '/rollout/waves/2/percent',
      '/rollout/waves/3/count',
      '/rollout/waves/4',
      '/rollout/maxParallel',
      '/rollout/pause',
      '/rollout/onFailure',
    ],
  );
  assert.ok(problems.every((p) => p.code === 'DROVER_ERR_INVALID_DEPLOY_SPEC' && p.message.startsWith('rollout: ')));
  assert.deepEqual(
    rolloutProblems({ waves: [] }).map((p) => p.path),
    ['/rollout/waves'],
  );
  assert.match(rolloutProblems({ waves: [{ selector: 'a=' }] })[0]?.message ?? '', /selector "a="/);
});

test('--waves: a bare number is a count, P% a percentage; anything else is refused', () => {
  assert.deepEqual(parseWavesFlag('1,10%,100%'), [{ count: 1 }, { percent: 10 }, { percent: 100 }]);
  assert.deepEqual(parseWavesFlag(' 2 , 50% '), [{ count: 2 }, { percent: 50 }]);
  assert.throws(() => parseWavesFlag('1,ten'), /"ten" is neither a count/);
  assert.throws(() => parseWavesFlag('0'), /neither a count/);
});

test('the failure budget: a count as given, a percentage rounded down against the agents', () => {
  assert.equal(failureAllowance(undefined, 100), 0);
  assert.equal(failureAllowance(3, 100), 3);
  assert.equal(failureAllowance('5%', 100), 5);
  assert.equal(failureAllowance('5%', 19), 0);
  assert.equal(failureAllowance('50%', 3), 1);
  assert.deepEqual([{ agents: ['a', 'b', 'c', 'd'] }, { selector: 'role=web' }, { percent: 10 }, { count: 1 }].map(waveLabel), [
    'a, b, c +1',
    'role=web',
    '10%',
    '1 agent',
  ]);
});
