/**
 * Human durations (duration.ts): parseDuration for the forms the CLI and
 * config accept (`90s`, `5m`, `1h30m`, `250ms`, bare seconds) and rejects,
 * and formatDuration's output.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../src/index.js';

describe('parseDuration', () => {
  const cases: [string, number][] = [
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['2', 2_000],
    ['0', 0],
    ['1.5', 1_500],
    ['1.5s', 1_500],
    ['2d', 172_800_000],
    ['1m30s', 90_000],
    ['1h1m1s1ms', 3_661_001],
    [' 5m ', 300_000],
  ];
  for (const [text, ms] of cases) {
    test(`${JSON.stringify(text)} is ${ms} ms`, () => assert.equal(parseDuration(text), ms));
  }

  for (const text of ['5x', '', '   ', 'm', 's5', '5m5', '1h30', '5 m', '-5s', '5s-', 'five', '1e3', '5M', '0x10']) {
    test(`${JSON.stringify(text)} is not a duration`, () => assert.equal(parseDuration(text), null));
  }

  test('a failed parse does not affect the next one (no leftover regex state)', () => {
    assert.equal(parseDuration('5m5'), null);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
  });
});

describe('formatDuration', () => {
  const cases: [number, string][] = [
    [0, '0ms'],
    [250, '250ms'],
    [1_500, '1.5s'],
    [9_940, '9.9s'],
    [45_000, '45s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [340, '340ms'],
    [999.4, '999ms'],
    [1_234, '1.2s'],
    [9_960, '10s'],
    [3_599_000, '59m59s'],
    [3_600_000, '1h'],
    [3_690_000, '1h2m'],
    [7_500_000, '2h5m'],
    [-5, '0ms'],
  ];
  for (const [ms, text] of cases) {
    test(`${ms} ms is ${text}`, () => assert.equal(formatDuration(ms), text));
  }

  test('rounding up to a whole minute carries into the minutes', () => {
    assert.equal(formatDuration(119_700), '2m');
    assert.equal(formatDuration(179_999), '3m');
  });

  test('round-trips through parseDuration for whole seconds and minutes', () => {
    for (const ms of [250, 45_000, 60_000, 90_000, 754_000, 3_600_000, 7_500_000]) assert.equal(parseDuration(formatDuration(ms)), ms);
  });
});
