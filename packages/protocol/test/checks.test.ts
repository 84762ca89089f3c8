/**
 * drover-checks.json parsing (checks.ts): every kind accepted with defaults
 * applied; unknown types and fields, bad durations and bad JSON refused
 * with a message naming the check and the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChecksFile } from '../src/checks.js';

const parse = (value: unknown) => parseChecksFile(typeof value === 'string' ? value : JSON.stringify(value));

test('every kind parses, with defaults and durations in ms', () => {
  const r = parse({
    checks: [
      { type: 'unit', unit: 'nginx.service' },
      { type: 'no-failed-units', retries: 0 },
      { type: 'http', url: 'http://127.0.0.1:80/health', timeout: '3s', interval: '500ms', name: 'web' },
      { type: 'tcp', host: '127.0.0.1', port: 22 },
      { type: 'command', argv: ['/bin/true', '--quick'] },
    ],
  });
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.deepEqual(
    r.checks.map((c) => [c.type, c.name, c.retries, c.intervalMs, c.timeoutMs]),
    [
      ['unit', 'unit nginx.service', 5, 2000, 10_000],
      ['no-failed-units', 'no failed units', 0, 2000, 10_000],
      ['http', 'web', 5, 500, 3000],
      ['tcp', 'tcp 127.0.0.1:22', 5, 2000, 10_000],
      ['command', 'command /bin/true', 5, 2000, 10_000],
    ],
  );
  const http = r.checks[2];
  assert.ok(http?.type === 'http' && http.url === 'http://127.0.0.1:80/health' && !('timeout' in http));
});

test('an empty list is valid', () => {
  assert.deepEqual(parse({ checks: [] }), { ok: true, checks: [] });
});

for (const [what, value, expected] of [
  [
    'an unknown type',
    { checks: [{ type: 'ping', host: 'x' }] },
    /checks\[0\]: unknown "type" "ping" \(expected one of unit, no-failed-units, http, tcp, command\)/,
  ],
  ['a missing type', { checks: [{ unit: 'x' }] }, /checks\[0\]: unknown "type" null/],
  ['an unknown field', { checks: [{ type: 'tcp', host: 'h', port: 1, tries: 3 }] }, /checks\[0\] \(tcp\) is invalid at \/tries/],
  ['a missing field', { checks: [{ type: 'unit' }] }, /checks\[0\] \(unit\) is invalid at \/unit/],
  ['a port out of range', { checks: [{ type: 'tcp', host: 'h', port: 70000 }] }, /is invalid at \/port/],
  ['an empty argv', { checks: [{ type: 'command', argv: [] }] }, /is invalid at \/argv/],
  [
    'a bad duration',
    { checks: [{ type: 'no-failed-units' }, { type: 'unit', unit: 'a', timeout: 'soon' }] },
    /checks\[1\]: "timeout" "soon" is not a duration/,
  ],
  ['negative retries', { checks: [{ type: 'unit', unit: 'a', retries: -1 }] }, /is invalid at \/retries/],
  ['an unknown top-level key', { checks: [], extra: 1 }, /unknown key "extra"/],
  ['checks not a list', { checks: {} }, /"checks" must be a list/],
  ['not JSON', '{"checks": [', /drover-checks.json is not valid JSON/],
  ['a non-object', '[]', /must be an object/],
] as const) {
  test(`refuses ${what}`, () => {
    const r = parse(value);
    assert.ok(!r.ok, 'refused');
    assert.match(r.error, expected);
  });
}

test('every problem is named at once', () => {
  const r = parse({ checks: [{ type: 'x' }, { type: 'unit', unit: 'ok' }, { type: 'tcp', host: 'h' }] });
  assert.ok(!r.ok);
  assert.match(r.error, /checks\[0\].*; checks\[2\]/);
});
