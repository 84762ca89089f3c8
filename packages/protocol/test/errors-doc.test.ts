/**
 * docs/errors.md stays in step with the error table: every code of ERRORS
 * (errors.ts) has exactly one row with its HTTP status and an explanation,
 * the page mentions no code that does not exist, and every websocket close
 * code of CLOSE_CODES (messages.ts) is documented. Also checks DroverError
 * takes status and hint from the table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLOSE_CODES, DroverError, ERRORS, isErrorCode, type ErrorCode } from '../src/index.js';

function findDoc(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'docs', 'errors.md');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('docs/errors.md not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

const doc = readFileSync(findDoc(), 'utf8');

function tableRows(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => /^\|.*\|\s*$/.test(line) && !/^\|\s*-/.test(line))
    .map((line) =>
      line
        .trim()
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
}

const rows = tableRows(doc);
const errorRows = new Map<string, string[]>();
const duplicates: string[] = [];
for (const cells of rows) {
  const m = /^`?(DROVER_ERR_[A-Z0-9_]+)`?$/.exec(cells[0] ?? '');
  if (!m) continue;
  if (errorRows.has(m[1]!)) duplicates.push(m[1]!);
  errorRows.set(m[1]!, cells);
}

test('every error code has one row with its HTTP status and an explanation', () => {
  const missing: string[] = [];
  for (const [code, spec] of Object.entries(ERRORS)) {
    const cells = errorRows.get(code);
    if (!cells) {
      missing.push(code);
      continue;
    }
    assert.equal(cells.length, 3, `${code}: expected | code | HTTP status | meaning |`);
    assert.equal(cells[1], String(spec.status), `${code}: documented status`);
    assert.ok((cells[2] ?? '').length >= 20, `${code}: explain what it means and how to fix it`);
  }
  assert.deepEqual(missing, [], 'codes missing from docs/errors.md');
  assert.deepEqual(duplicates, [], 'codes with more than one row');
});

test('the page names no code that is not in ERRORS', () => {
  const unknownRows = [...errorRows.keys()].filter((code) => !isErrorCode(code));
  assert.deepEqual(unknownRows, [], 'table rows for codes that do not exist');
  const mentioned = new Set(doc.match(/DROVER_ERR_[A-Z0-9_]+/g) ?? []);
  assert.deepEqual(
    [...mentioned].filter((code) => !isErrorCode(code)),
    [],
    'codes mentioned anywhere on the page',
  );
});

test('the table has its header', () => {
  assert.ok(rows.some((cells) => cells.join('|') === 'code|HTTP status|meaning / how to fix'));
});

test('every websocket close code is documented by number and name', () => {
  for (const [name, code] of Object.entries(CLOSE_CODES)) {
    const row = rows.find((cells) => cells[0] === String(code));
    assert.ok(row, `close code ${code} (${name}) has a row`);
    assert.equal(row[1], `\`${name}\``, `close code ${code} is named ${name}`);
    assert.ok((row[2] ?? '').length >= 20, `close code ${code}: explained`);
  }
});

test('DroverError takes status and hint from the table', () => {
  for (const code of Object.keys(ERRORS) as ErrorCode[]) {
    const err = new DroverError(code, 'm');
    assert.equal(err.statusCode, ERRORS[code].status);
    assert.deepEqual(err.toBody(), { code, message: 'm', hint: ERRORS[code].hint });
  }
  const detail = { path: '/agents/x', code: 'DROVER_ERR_INVALID_AGENT_NAME' as const, message: 'bad' };
  assert.deepEqual(new DroverError('DROVER_ERR_INVALID_DEPLOY_SPEC', 'm', [detail]).toBody().details, [detail]);
  assert.equal('details' in new DroverError('DROVER_ERR_INVALID_DEPLOY_SPEC', 'm', []).toBody(), false);
});

test('statuses are client or server error statuses', () => {
  for (const [code, spec] of Object.entries(ERRORS)) assert.ok(spec.status >= 400 && spec.status <= 599, code);
});
