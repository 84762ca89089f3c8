/**
 * Agent websocket frames (messages.ts): decodeAgentMessage and
 * decodeServerMessage accept valid frames of each type and reject, with a
 * message naming the problem, frames that are not JSON, have an unknown
 * type, miss a field, break a pattern or carry more than
 * MAX_LOG_LINES_PER_FRAME log lines; encodeMessage round-trips.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLOSE_CODES,
  decodeAgentMessage,
  decodeServerMessage,
  encodeMessage,
  MAX_DIFF_ENTRIES,
  MAX_LOG_LINE_CHARS,
  MAX_LOG_LINES_PER_FRAME,
  PROTOCOL_VERSION,
  type AgentMessage,
  type DecodeResult,
  type ServerMessage,
} from '../src/index.js';

const HASH = '0123456789abcdfghijklmnpqrsvwxyz';
const PATH = `/nix/store/${HASH}-system`;
const ID = '0b9f1c1e-5d2a-4c53-9a7e-3f1d2b4c5e6f';
const TIME = '2025-01-02T03:04:05.678Z';

const hello = {
  type: 'hello',
  protocol: PROTOCOL_VERSION,
  agent: 'web-1',
  version: '0.1.0',
  system: 'x86_64-linux',
  profile: '/nix/var/nix/profiles/system',
  hostname: 'web-1.example.com',
};

function logFrame(count: number) {
  return {
    type: 'deployment.log',
    id: ID,
    lines: Array.from({ length: count }, (_, i) => ({ seq: i, time: TIME, stream: 'stdout', text: `line ${i}` })),
  };
}

/** A closure diff adding `added` packages. */
function diffOf(added: number) {
  return {
    from: `/nix/store/${HASH}-old`,
    to: PATH,
    source: 'agent',
    added: Array.from({ length: added }, (_, i) => ({ name: `pkg${i}`, version: '1.0' })),
    removed: [],
    changed: [{ name: 'app', from: ['1.0'], to: ['1.1'] }],
    sizeDelta: -5,
    sizeFrom: 10,
    sizeTo: 5,
  };
}

function rejected<T>(result: DecodeResult<T>): string {
  assert.equal(result.ok, false, 'expected the frame to be rejected');
  return result.error;
}

describe('decodeAgentMessage', () => {
  test('accepts a valid hello', () => {
    const r = decodeAgentMessage(JSON.stringify(hello));
    assert.deepEqual(r, { ok: true, message: hello });
  });

  const valid: [string, object][] = [
    ['deployment.started', { type: 'deployment.started', id: ID, time: TIME }],
    ['hello with problems', { ...hello, problems: ['Nix is not on PATH'] }],
    ['agent.problems', { type: 'agent.problems', problems: ['Nix is not on PATH'] }],
    ['agent.problems, all fixed', { type: 'agent.problems', problems: [] }],
    ['deployment.closure-size', { type: 'deployment.closure-size', id: ID, closureSize: 123456789 }],
    ['deployment.diff', { type: 'deployment.diff', id: ID, diff: diffOf(1) }],
    ['deployment.diff against nothing', { type: 'deployment.diff', id: ID, diff: { ...diffOf(0), from: null, sizeFrom: null, sizeDelta: null } }],
    ['deployment.log with one line', logFrame(1)],
    [`deployment.log with ${MAX_LOG_LINES_PER_FRAME} lines`, logFrame(MAX_LOG_LINES_PER_FRAME)],
    ['deployment.finished Succeeded', { type: 'deployment.finished', id: ID, time: TIME, status: 'Succeeded', reason: null, activePath: PATH }],
    ['deployment.finished Failed', { type: 'deployment.finished', id: ID, time: TIME, status: 'Failed', reason: 'activation failed', activePath: null }],
    [
      'deployment.would-restart',
      {
        type: 'deployment.would-restart',
        id: ID,
        wouldRestart: { restart: ['sshd.service', 'systemd'], start: [], stop: ['a.service'], reload: ['dbus.service'] },
      },
    ],
    ['deployment.would-restart, not known', { type: 'deployment.would-restart', id: ID, wouldRestart: null }],
  ];
  for (const [label, frame] of valid) {
    test(`accepts ${label}`, () => {
      const r = decodeAgentMessage(JSON.stringify(frame));
      assert.equal(r.ok, true, r.ok ? '' : r.error);
      assert.deepEqual(r.message, frame);
    });
  }

  test('rejects an unknown type, listing the known ones', () => {
    const error = rejected(decodeAgentMessage(JSON.stringify({ ...hello, type: 'helo' })));
    assert.match(error, /^agent frame has unknown type "helo" \(expected one of /);
    for (const t of ['hello', 'deployment.started', 'deployment.closure-size', 'deployment.log', 'deployment.finished']) {
      assert.ok(error.includes(t), `lists ${t}`);
    }
  });

  test('rejects a server message sent by an agent', () => {
    assert.match(rejected(decodeAgentMessage(JSON.stringify({ type: 'deployment.ack', id: ID }))), /unknown type "deployment.ack"/);
  });

  test('rejects frames without a string type', () => {
    for (const frame of [{}, { type: 1 }, [hello], null, 'hello', 3]) {
      assert.match(rejected(decodeAgentMessage(JSON.stringify(frame))), /unknown type/, JSON.stringify(frame));
    }
  });

  test('rejects "__proto__" and other inherited names as types', () => {
    for (const type of ['__proto__', 'constructor', 'toString']) {
      assert.match(rejected(decodeAgentMessage(JSON.stringify({ type }))), /unknown type/);
    }
  });

  test('rejects a missing field, naming it', () => {
    const incomplete: Partial<typeof hello> = { ...hello };
    delete incomplete.hostname;
    const error = rejected(decodeAgentMessage(JSON.stringify(incomplete)));
    assert.match(error, /^agent frame "hello" is invalid at \/hostname: /);
  });

  test('rejects a field breaking its pattern', () => {
    assert.match(rejected(decodeAgentMessage(JSON.stringify({ ...hello, agent: 'a b' }))), /"hello" is invalid at \/agent: /);
    assert.match(rejected(decodeAgentMessage(JSON.stringify({ ...hello, system: 'linux' }))), /invalid at \/system: /);
    assert.match(rejected(decodeAgentMessage(JSON.stringify({ type: 'deployment.started', id: 'not-a-uuid', time: TIME }))), /invalid at \/id: /);
    const badPath = { type: 'deployment.finished', id: ID, time: TIME, status: 'Succeeded', reason: null, activePath: '/nix/store/abc-x' };
    assert.match(rejected(decodeAgentMessage(JSON.stringify(badPath))), /invalid at \/activePath/);
  });

  test('rejects wrong types and out-of-range values', () => {
    assert.match(rejected(decodeAgentMessage(JSON.stringify({ ...hello, protocol: '1' }))), /invalid at \/protocol/);
    assert.match(rejected(decodeAgentMessage(JSON.stringify({ ...hello, protocol: 0 }))), /invalid at \/protocol/);
    assert.match(rejected(decodeAgentMessage(JSON.stringify({ type: 'deployment.closure-size', id: ID, closureSize: -1 }))), /invalid at \/closureSize/);
    const noReload = { type: 'deployment.would-restart', id: ID, wouldRestart: { restart: [], start: [], stop: [] } };
    assert.match(rejected(decodeAgentMessage(JSON.stringify(noReload))), /invalid at \/wouldRestart/);
    const superseded = { type: 'deployment.finished', id: ID, time: TIME, status: 'Superseded', reason: null, activePath: null };
    assert.match(rejected(decodeAgentMessage(JSON.stringify(superseded))), /invalid at \/status/);
  });

  test('rejects text that is not JSON', () => {
    for (const text of ['', 'hello', '{"type":"hello"', '{type: "hello"}']) {
      assert.equal(rejected(decodeAgentMessage(text)), 'agent frame is not JSON');
    }
  });

  test(`rejects a log batch of more than ${MAX_LOG_LINES_PER_FRAME} lines, and an empty one`, () => {
    assert.match(rejected(decodeAgentMessage(JSON.stringify(logFrame(MAX_LOG_LINES_PER_FRAME + 1)))), /"deployment.log" is invalid at \/lines/);
    assert.match(rejected(decodeAgentMessage(JSON.stringify(logFrame(0)))), /invalid at \/lines/);
  });

  test(`rejects a diff of more than ${MAX_DIFF_ENTRIES} packages in a list, or one from an unknown source`, () => {
    assert.match(
      rejected(decodeAgentMessage(JSON.stringify({ type: 'deployment.diff', id: ID, diff: diffOf(MAX_DIFF_ENTRIES + 1) }))),
      /invalid at \/diff\/added/,
    );
    assert.match(
      rejected(decodeAgentMessage(JSON.stringify({ type: 'deployment.diff', id: ID, diff: { ...diffOf(1), source: 'x' } }))),
      /invalid at \/diff\/source/,
    );
  });

  test('rejects a log line longer than the limit allows, and an unknown stream', () => {
    const long = logFrame(1);
    long.lines[0]!.text = 'x'.repeat(MAX_LOG_LINE_CHARS + 65);
    assert.match(rejected(decodeAgentMessage(JSON.stringify(long))), /invalid at \/lines\/0\/text/);
    const stream = logFrame(1);
    stream.lines[0]!.stream = 'stdin';
    assert.match(rejected(decodeAgentMessage(JSON.stringify(stream))), /invalid at \/lines\/0\/stream/);
  });
});

describe('decodeServerMessage', () => {
  const valid: ServerMessage[] = [
    { type: 'registered', agentId: ID, workspace: 'default', cache: null, pingIntervalMs: 30_000 },
    { type: 'registered', agentId: ID, workspace: 'team-a', cache: { substituter: 'https://cache.example.com', publicKey: 'k:x' }, pingIntervalMs: 1000 },
    { type: 'deploy', deployment: { id: ID, index: 1, storePath: PATH, rollbackScript: null, cache: null } },
    { type: 'deploy', deployment: { id: ID, index: 4, storePath: PATH, rollbackScript: null, cache: null, wantDiff: true } },
    {
      type: 'deploy',
      deployment: { id: ID, index: 2, storePath: PATH, rollbackScript: null, cache: { substituter: 'https://cache.example.com', publicKey: 'k:x' } },
    },
    {
      type: 'deploy',
      deployment: { id: ID, index: 3, storePath: PATH, rollbackScript: null, cache: null, activationTimeoutMs: 300_000, confirmTimeoutMs: null },
    },
    { type: 'deploy', deployment: { id: ID, index: 4, storePath: PATH, rollbackScript: null, cache: null, dry: true } },
    { type: 'deployment.ack', id: ID },
    { type: 'deployment.cancel', id: ID, reason: 'cancelled by a user' },
  ];
  for (const message of valid) {
    test(`accepts ${message.type}`, () => {
      assert.deepEqual(decodeServerMessage(encodeMessage(message)), { ok: true, message });
    });
  }

  test('rejects an agent message, a bad deploy index and a bad store path', () => {
    assert.match(rejected(decodeServerMessage(JSON.stringify(hello))), /^server frame has unknown type "hello"/);
    const deploy = { type: 'deploy', deployment: { id: ID, index: 0, storePath: PATH, rollbackScript: null, cache: null } };
    assert.match(rejected(decodeServerMessage(JSON.stringify(deploy))), /^server frame "deploy" is invalid at \/deployment\/index/);
    deploy.deployment.index = 1;
    deploy.deployment.storePath = '/nix/store/x';
    assert.match(rejected(decodeServerMessage(JSON.stringify(deploy))), /invalid at \/deployment\/storePath/);
    const shortDeadline = { type: 'deploy', deployment: { id: ID, index: 1, storePath: PATH, rollbackScript: null, cache: null, confirmTimeoutMs: 10 } };
    assert.match(rejected(decodeServerMessage(JSON.stringify(shortDeadline))), /invalid at \/deployment\/confirmTimeoutMs/);
    assert.match(
      rejected(decodeServerMessage(JSON.stringify({ type: 'registered', agentId: ID, workspace: 'default', cache: null, pingIntervalMs: 10 }))),
      /invalid at \/pingIntervalMs/,
    );
  });

  test('rejects text that is not JSON', () => {
    assert.equal(rejected(decodeServerMessage('<html>')), 'server frame is not JSON');
  });
});

test('encodeMessage writes one JSON text the decoder reads back', () => {
  const message = JSON.parse(JSON.stringify(hello)) as AgentMessage;
  const text = encodeMessage(message);
  assert.equal(text, JSON.stringify(hello));
  assert.deepEqual(decodeAgentMessage(text), { ok: true, message: hello });
});

test('close codes are distinct and in the application range (or 1001)', () => {
  const codes = Object.values(CLOSE_CODES);
  assert.equal(new Set(codes).size, codes.length);
  for (const code of codes) assert.ok(code === 1001 || (code >= 4000 && code <= 4999), String(code));
});
