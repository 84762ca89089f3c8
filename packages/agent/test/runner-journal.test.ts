/**
 * The runner's journal writer (runner/journal.ts): it writes protocol
 * messages with the deployment id; a new runner of the same deployment
 * continues the log numbering after lines an earlier runner wrote (also of
 * the previous agent version) and sees an outcome already there;
 * finishedElsewhere notices an outcome another runner appended later.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { appendEntry, type JournalEntry } from '../src/journal/entry.js';
import { JournalReader } from '../src/journal/reader.js';
import { Journal } from '../src/runner/journal.js';
import { files } from '../src/state.js';
import { finished, ID_A, legacyLines, log, scratch, started } from './journal-fixtures.js';

const tmp = scratch('drover-runner-journal-test-');
after(() => tmp.remove());

function entries(dir: string): JournalEntry[] {
  const all: JournalEntry[] = [];
  new JournalReader(files.events(dir), { deploymentId: ID_A }).drain((e) => all.push(...e));
  return all;
}

test('writes deployment.* messages carrying the deployment id, log lines numbered from 0', () => {
  const dir = tmp.dir();
  const journal = new Journal(dir, ID_A);
  journal.started();
  journal.say('hello');
  journal.line('stderr', 'oops');
  journal.closureSize(42);
  journal.finish('Failed', 'x'.repeat(5000), null);
  journal.finish('Succeeded', null, null);
  const written = entries(dir);
  assert.deepEqual(
    written.map((e) => [e.type, e.id]),
    [
      ['deployment.started', ID_A],
      ['deployment.log', ID_A],
      ['deployment.log', ID_A],
      ['deployment.closure-size', ID_A],
      ['deployment.finished', ID_A],
    ],
  );
  assert.deepEqual(
    written.flatMap((e) => (e.type === 'deployment.log' ? e.lines.map((l) => [l.seq, l.stream, l.text]) : [])),
    [
      [0, 'agent', 'hello'],
      [1, 'stderr', 'oops'],
    ],
  );
  const outcome = written.at(-1);
  assert.ok(outcome?.type === 'deployment.finished' && outcome.status === 'Failed', 'only the first outcome is written');
  assert.ok((outcome.reason?.length ?? 0) < 4100, 'a long reason is cut');
});

test('a later runner continues numbering after current and previous-version lines', () => {
  const dir = tmp.dir();
  appendFileSync(files.events(dir), `${legacyLines.started}\n${legacyLines.log(0, 'a')}\n${legacyLines.log(4, 'b')}\n`);
  appendEntry(dir, log(ID_A, 6, 'c'));
  const journal = new Journal(dir, ID_A);
  assert.equal(journal.finished, false);
  journal.say('next');
  const last = entries(dir).at(-1);
  assert.ok(last?.type === 'deployment.log');
  assert.equal(last.lines[0]?.seq, 7);
});

test('an outcome already in the journal, or appended by another runner later, is seen', () => {
  const done = tmp.dir();
  appendEntry(done, started(ID_A));
  appendEntry(done, finished(ID_A));
  assert.equal(new Journal(done, ID_A).finished, true);

  const dir = tmp.dir();
  const journal = new Journal(dir, ID_A);
  assert.equal(journal.finishedElsewhere(), false);
  appendFileSync(files.events(dir), `${legacyLines.finished}\n`);
  assert.equal(journal.finishedElsewhere(), true);
});
