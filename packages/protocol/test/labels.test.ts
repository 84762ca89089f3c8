/** Labels and selectors: the one syntax the CLI, the server and the UI share. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DroverError,
  formatSelector,
  labelsProblems,
  matchesSelector,
  parseLabelAssignment,
  parseLabelChanges,
  parseLabels,
  parseSelector,
} from '../src/index.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return err instanceof DroverError ? err.code : 'not a DroverError';
  }
  return undefined;
};

describe('labels', () => {
  test('KEY=VALUE assignments parse, bad ones name the problem', () => {
    assert.deepEqual(parseLabelAssignment('role=web'), ['role', 'web']);
    assert.deepEqual(parseLabelAssignment('example.com/tier=1'), ['example.com/tier', '1']);
    for (const bad of ['role', '=web', 'role=', 'role=a b', '-x=1', 'x=a,b', '__proto__=1']) {
      assert.equal(
        codeOf(() => parseLabelAssignment(bad)),
        'DROVER_ERR_INVALID_LABEL',
        bad,
      );
    }
  });
  test('a label set is checked whole', () => {
    assert.deepEqual(labelsProblems({ role: 'web', region: 'eu' }), []);
    assert.equal(labelsProblems({ role: 1, 'bad key': 'x' }).length, 2);
    assert.deepEqual(labelsProblems([]), ['labels must be an object of key: value strings']);
    assert.equal(labelsProblems(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']))).length, 1);
    assert.equal(
      codeOf(() => parseLabels({ role: '' })),
      'DROVER_ERR_INVALID_LABEL',
    );
  });
});

describe('selectors', () => {
  const web = { role: 'web', region: 'eu' };
  const db = { role: 'db', region: 'us' };
  const bare = {};
  const pick = (text: string) => [web, db, bare].map((labels) => matchesSelector(parseSelector(text), labels));
  test('each kind of requirement, joined with AND', () => {
    assert.deepEqual(pick('role=web'), [true, false, false]);
    assert.deepEqual(pick('region!=eu'), [false, true, true]);
    assert.deepEqual(pick('role'), [true, true, false]);
    assert.deepEqual(pick('!role'), [false, false, true]);
    assert.deepEqual(pick('role=web,region!=eu'), [false, false, false]);
    assert.deepEqual(pick(' role = db , region=us '.replace(/ = /g, '=')), [false, true, false]);
    assert.deepEqual(pick(''), [true, true, true]);
  });
  test('a malformed selector names the part at fault', () => {
    for (const bad of ['role=', 'role==web', ',', 'role=web,', '!', 'a b=c', 'role=w e b']) {
      assert.equal(
        codeOf(() => parseSelector(bad)),
        'DROVER_ERR_INVALID_SELECTOR',
        bad,
      );
    }
  });
  test('the canonical text reads back to the same selector', () => {
    const s = parseSelector('role=web, region!=eu,gpu,!spot');
    assert.equal(formatSelector(s), 'role=web,region!=eu,gpu,!spot');
    assert.deepEqual(parseSelector(formatSelector(s)), s);
  });
});

describe('admin label changes (drover agents label NAME k=v k-)', () => {
  test('k=v sets, k- removes (null), the last word for a key wins', () => {
    assert.deepEqual(parseLabelChanges(['role=web', 'region-', 'tier=a', 'tier=b']), { role: 'web', region: null, tier: 'b' });
    assert.deepEqual(parseLabelChanges(['ver=1-']), { ver: '1-' }, 'a value may end in "-"');
  });
  test('a bad key or value is DROVER_ERR_INVALID_LABEL', () => {
    for (const bad of [['-'], ['=web'], ['role=no spaces'], ['_x-']])
      assert.equal(
        codeOf(() => parseLabelChanges(bad)),
        'DROVER_ERR_INVALID_LABEL',
        bad.join(' '),
      );
  });
});
