/**
 * Reading a journal (journal/reader.ts): only complete lines, a half-written
 * last line is left for the next read, which resumes at the byte offset
 * (also with multi-byte text); torn lines and lines of another deployment
 * are skipped and reported; a read looks only at bytes appended since the
 * previous one, in bounded chunks; rewind starts over; lines written by the
 * previous agent version read as the same protocol messages, with the id of
 * the deployment's order.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { appendEntry, type JournalEntry } from '../src/journal/entry.js';
import { JournalReader } from '../src/journal/reader.js';
import { files } from '../src/state.js';
import { closureSize, finished, ID_A, ID_B, legacyLines, log, scratch, started } from './journal-fixtures.js';

const tmp = scratch('drover-journal-test-');
after(() => tmp.remove());

function reader(dir: string, chunkBytes?: number): { reader: JournalReader; skipped: string[] } {
  const skipped: string[] = [];
  return { reader: new JournalReader(files.events(dir), { deploymentId: ID_A, chunkBytes, onSkipped: (_line, error) => skipped.push(error) }), skipped };
}

function drained(r: JournalReader): JournalEntry[] {
  const all: JournalEntry[] = [];
  r.drain((entries) => all.push(...entries));
  return all;
}

describe('JournalReader', () => {
  test('no journal yet: nothing, offset 0', () => {
    const { reader: r } = reader(tmp.dir());
    assert.deepEqual(r.read(), []);
    assert.equal(r.offset, 0);
  });

  test('reads appended entries in order; the offset is the file size; nothing new reads nothing', () => {
    const dir = tmp.dir();
    appendEntry(dir, started(ID_A));
    appendEntry(dir, log(ID_A, 0, 'hello'));
    const { reader: r } = reader(dir);
    assert.deepEqual(r.read(), [started(ID_A), log(ID_A, 0, 'hello')]);
    assert.equal(r.offset, statSync(files.events(dir)).size);
    assert.deepEqual(r.read(), []);
  });

  test('a half-written last line is left for the next read, which resumes after the last complete line', () => {
    const dir = tmp.dir();
    appendEntry(dir, started(ID_A));
    appendEntry(dir, log(ID_A, 0, 'one'));
    const whole = JSON.stringify(log(ID_A, 1, 'two')) + '\n';
    const cut = 10;
    appendFileSync(files.events(dir), whole.slice(0, cut));
    const { reader: r, skipped } = reader(dir);

    assert.deepEqual(r.read(), [started(ID_A), log(ID_A, 0, 'one')]);
    assert.equal(r.offset, statSync(files.events(dir)).size - cut);
    assert.deepEqual(r.read(), [], 'still incomplete');

    appendFileSync(files.events(dir), whole.slice(cut));
    appendEntry(dir, finished(ID_A));
    assert.deepEqual(r.read(), [log(ID_A, 1, 'two'), finished(ID_A)]);
    assert.equal(r.offset, statSync(files.events(dir)).size);
    assert.deepEqual(skipped, []);
  });

  test('offsets are bytes: multi-byte text does not shift the resume point', () => {
    const dir = tmp.dir();
    appendEntry(dir, log(ID_A, 0, 'héllo wörld ✓ 日本'));
    const { reader: r } = reader(dir);
    r.read();
    assert.equal(r.offset, Buffer.byteLength(readFileSync(files.events(dir), 'utf8')));
    appendEntry(dir, log(ID_A, 1, 'après'));
    assert.deepEqual(r.read(), [log(ID_A, 1, 'après')]);
  });

  test('a torn line in the middle (from a crash) is skipped and reported, later entries are read', () => {
    const dir = tmp.dir();
    appendEntry(dir, started(ID_A));
    appendFileSync(files.events(dir), '{"type":"deployment.log","se\n');
    appendEntry(dir, finished(ID_A));
    const { reader: r, skipped } = reader(dir);
    assert.deepEqual(r.read(), [started(ID_A), finished(ID_A)]);
    assert.equal(skipped.length, 1);
  });

  test('entries of another deployment, hello and schema-invalid lines are skipped', () => {
    const dir = tmp.dir();
    appendEntry(dir, started(ID_B));
    appendFileSync(files.events(dir), '{"type":"hello"}\n{"type":"deployment.closure-size","id":"' + ID_A + '","closureSize":-1}\n');
    appendEntry(dir, closureSize(ID_A));
    const { reader: r, skipped } = reader(dir);
    assert.deepEqual(r.read(), [closureSize(ID_A)]);
    assert.equal(skipped.length, 3);
    assert.match(skipped[0] ?? '', new RegExp(ID_B));
  });

  test('a read looks only at bytes appended since the previous read', () => {
    const dir = tmp.dir();
    appendEntry(dir, started(ID_A));
    const { reader: r, skipped } = reader(dir);
    assert.equal(r.read().length, 1);
    // Overwrite what was read with garbage of the same length: a re-read from byte 0 would skip it.
    const size = statSync(files.events(dir)).size;
    writeFileSync(files.events(dir), 'x'.repeat(size - 1) + '\n');
    appendEntry(dir, finished(ID_A));
    assert.deepEqual(r.read(), [finished(ID_A)]);
    assert.deepEqual(skipped, []);
  });

  test('reads in chunks of about chunkBytes; drain takes them all; a line longer than a chunk is still read', () => {
    const dir = tmp.dir();
    const entries = [started(ID_A), ...Array.from({ length: 20 }, (_, i) => log(ID_A, i, `line ${i}`)), log(ID_A, 20, 'y'.repeat(1000)), finished(ID_A)];
    for (const e of entries) appendEntry(dir, e);
    const { reader: r } = reader(dir, 256);
    const first = r.read();
    assert.ok(first.length > 0 && first.length < entries.length, `one chunk, got ${first.length}`);
    assert.deepEqual([...first, ...drained(r)], entries);
    assert.equal(r.offset, statSync(files.events(dir)).size);
  });

  test('rewind reads the journal again from its first line', () => {
    const dir = tmp.dir();
    appendEntry(dir, started(ID_A));
    appendEntry(dir, finished(ID_A));
    const { reader: r } = reader(dir);
    const all = drained(r);
    r.rewind();
    assert.equal(r.offset, 0);
    assert.deepEqual(drained(r), all);
  });

  test("lines of the previous agent version read as protocol messages with the order's deployment id", () => {
    const dir = tmp.dir();
    appendFileSync(files.events(dir), [legacyLines.started, legacyLines.log(0, 'old runner'), legacyLines.closureSize, ''].join('\n'));
    appendEntry(dir, finished(ID_A)); // the new agent appends the outcome of an old runner that died
    const { reader: r, skipped } = reader(dir);
    assert.deepEqual(r.read(), [started(ID_A), log(ID_A, 0, 'old runner'), closureSize(ID_A), finished(ID_A)]);
    appendFileSync(files.events(dir), `${legacyLines.finished}\n{"type":"nonsense"}\n`);
    assert.deepEqual(r.read(), [finished(ID_A)]);
    assert.equal(skipped.length, 1, 'an unknown old type is skipped');
  });
});
