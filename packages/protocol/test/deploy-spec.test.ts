/**
 * deploy.json validation (deploy-spec.ts): a valid spec parses; an invalid
 * one reports every problem at once — unknown top-level keys, bad agent
 * names, bad store paths, bad rollbackScript systems and paths, empty or
 * missing agents, non-objects — each with its JSON-pointer path and code;
 * parseDeploySpecText turns a JSON syntax error into a spec error naming
 * the source.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deploySpecProblems, DroverError, parseDeadline, parseDeploySpec, parseDeploySpecText, type ErrorDetail } from '../src/index.js';

const HASH = '0123456789abcdfghijklmnpqrsvwxyz';
const P1 = `/nix/store/${HASH}-system-1`;
const P2 = `/nix/store/${HASH}-system-2`;
const RB = `/nix/store/${HASH}-rollback`;

function summary(problems: readonly ErrorDetail[]): [string, string][] {
  return problems.map((p) => [p.path, p.code]);
}

function specError(fn: () => unknown): DroverError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DroverError, `expected a DroverError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to throw');
}

describe('valid specs', () => {
  test('agents only', () => {
    const value = { agents: { 'web-1': P1, NPS03: P2 } };
    assert.deepEqual(deploySpecProblems(value), []);
    assert.deepEqual(parseDeploySpec(value), { agents: { 'web-1': P1, NPS03: P2 } });
  });

  test('with rollbackScript per system', () => {
    const value = { agents: { 'a.b_c': P1 }, rollbackScript: { 'x86_64-linux': RB, 'aarch64-linux': RB } };
    assert.deepEqual(parseDeploySpec(value), value);
  });

  test('with deadlines', () => {
    const spec = parseDeploySpec({ agents: { a: P1 }, activationTimeout: '5m', confirmTimeout: '90s' });
    assert.deepEqual(spec, { agents: { a: P1 }, activationTimeout: '5m', confirmTimeout: '90s' });
    assert.equal(parseDeadline('activationTimeout', '1h30m'), 5_400_000);
  });

  test('a null rollbackScript is accepted and dropped', () => {
    const spec = parseDeploySpec({ agents: { web: P1 }, rollbackScript: null });
    assert.deepEqual(spec, { agents: { web: P1 } });
    assert.equal('rollbackScript' in spec, false);
  });
});

describe('invalid specs report every problem at once', () => {
  test('unknown key, bad names, bad store paths and a bad rollbackScript system together', () => {
    const value = {
      agents: {
        'good-1': P1,
        'a b': P1, // bad name
        'web-2': '/nix/store/short-hello', // bad store path
        'a/b': 'not a path', // bad name and bad path
      },
      rollbackScript: { Linux: RB, 'x86_64-linux': '/tmp/rollback' },
      agent: {}, // typo of "agents"
      extra: 1,
    };
    const problems = deploySpecProblems(value);
    assert.deepEqual(summary(problems), [
      ['/agent', 'DROVER_ERR_INVALID_DEPLOY_SPEC'],
      ['/extra', 'DROVER_ERR_INVALID_DEPLOY_SPEC'],
      ['/agents/a b', 'DROVER_ERR_INVALID_AGENT_NAME'],
      ['/agents/web-2', 'DROVER_ERR_INVALID_STORE_PATH'],
      ['/agents/a~1b', 'DROVER_ERR_INVALID_AGENT_NAME'],
      ['/agents/a~1b', 'DROVER_ERR_INVALID_STORE_PATH'],
      ['/rollbackScript/Linux', 'DROVER_ERR_INVALID_DEPLOY_SPEC'],
      ['/rollbackScript/x86_64-linux', 'DROVER_ERR_INVALID_STORE_PATH'],
    ]);
    assert.match(problems[0]!.message, /unknown key "agent" \(allowed: "agents", "rollbackScript", "activationTimeout", "confirmTimeout", "rollout"\)/);
    assert.match(problems[3]!.message, /^agent "web-2": "\/nix\/store\/short-hello" is not a store path/);
    assert.match(problems[6]!.message, /"Linux" is not a system such as "x86_64-linux"/);
    assert.match(problems[7]!.message, /^rollbackScript for x86_64-linux: "\/tmp\/rollback" is not a store path/);

    const err = specError(() => parseDeploySpec(value));
    assert.equal(err.code, 'DROVER_ERR_INVALID_DEPLOY_SPEC');
    assert.equal(err.statusCode, 400);
    assert.deepEqual(err.details, problems);
    for (const p of problems) assert.ok(err.message.includes(p.message), `message lists: ${p.message}`);
    assert.deepEqual(err.toBody().details, problems);
  });

  test('deadlines that are not durations or out of range', () => {
    const problems = deploySpecProblems({ agents: { a: P1 }, activationTimeout: 'soon', confirmTimeout: '2h' });
    assert.deepEqual(summary(problems), [
      ['/activationTimeout', 'DROVER_ERR_INVALID_DEPLOY_SPEC'],
      ['/confirmTimeout', 'DROVER_ERR_INVALID_DEPLOY_SPEC'],
    ]);
    assert.match(problems[0]!.message, /^"activationTimeout" "soon" is not a duration/);
    assert.match(problems[1]!.message, /^"confirmTimeout" "2h" is out of range \(1s to 1h\)/);
    assert.match(deploySpecProblems({ agents: { a: P1 }, confirmTimeout: 60 })[0]!.message, /must be a duration string/);
  });

  test('"~" in a name is escaped in the pointer', () => {
    assert.deepEqual(summary(deploySpecProblems({ agents: { '~x': P1 } })), [['/agents/~0x', 'DROVER_ERR_INVALID_AGENT_NAME']]);
  });

  test('empty agents', () => {
    const problems = deploySpecProblems({ agents: {} });
    assert.deepEqual(summary(problems), [['/agents', 'DROVER_ERR_INVALID_DEPLOY_SPEC']]);
    assert.match(problems[0]!.message, /empty/);
  });

  test('missing agents, agents not an object', () => {
    for (const agents of [undefined, null, [], 'web', 3]) {
      const value = agents === undefined ? {} : { agents };
      assert.deepEqual(summary(deploySpecProblems(value)), [['/agents', 'DROVER_ERR_INVALID_DEPLOY_SPEC']], JSON.stringify(value));
    }
  });

  test('rollbackScript not an object', () => {
    for (const rollbackScript of [RB, [RB], 1]) {
      assert.deepEqual(summary(deploySpecProblems({ agents: { web: P1 }, rollbackScript })), [['/rollbackScript', 'DROVER_ERR_INVALID_DEPLOY_SPEC']]);
    }
  });

  test('a store path that is not a string', () => {
    assert.deepEqual(summary(deploySpecProblems({ agents: { web: 42 } })), [['/agents/web', 'DROVER_ERR_INVALID_STORE_PATH']]);
  });

  test('a spec that is not an object', () => {
    for (const value of [null, undefined, [], [{ agents: {} }], 'agents', 12, true]) {
      const problems = deploySpecProblems(value);
      assert.deepEqual(summary(problems), [['', 'DROVER_ERR_INVALID_DEPLOY_SPEC']], JSON.stringify(value));
      assert.throws(() => parseDeploySpec(value), { code: 'DROVER_ERR_INVALID_DEPLOY_SPEC' });
    }
  });
});

describe('parseDeploySpecText', () => {
  test('parses valid JSON text', () => {
    assert.deepEqual(parseDeploySpecText(JSON.stringify({ agents: { web: P1 } }), 'deploy.json'), { agents: { web: P1 } });
  });

  test('a JSON syntax error names the source', () => {
    const err = specError(() => parseDeploySpecText('{"agents": {"web": ', './ci/deploy.json'));
    assert.equal(err.code, 'DROVER_ERR_INVALID_DEPLOY_SPEC');
    assert.match(err.message, /^\.\/ci\/deploy\.json is not valid JSON: /);
    assert.deepEqual(summary(err.details ?? []), [['', 'DROVER_ERR_INVALID_DEPLOY_SPEC']]);
  });

  test('without a source name it says "deploy spec"', () => {
    assert.throws(() => parseDeploySpecText('nope'), { message: /^deploy spec is not valid JSON: / });
  });

  test('valid JSON with spec problems reports them all', () => {
    const err = specError(() => parseDeploySpecText(JSON.stringify({ agents: { 'a b': 'x' }, foo: 1 }), 'deploy.json'));
    assert.deepEqual(summary(err.details ?? []), [
      ['/foo', 'DROVER_ERR_INVALID_DEPLOY_SPEC'],
      ['/agents/a b', 'DROVER_ERR_INVALID_AGENT_NAME'],
      ['/agents/a b', 'DROVER_ERR_INVALID_STORE_PATH'],
    ]);
  });
});
