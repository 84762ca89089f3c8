/**
 * Shared by the journal and outbox tests: temporary deployment folders and
 * sample journal entries (current format) and their previous-version lines.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogLine } from '@drover/protocol';
import type { JournalEntry } from '../src/journal/entry.js';

export const ID_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
export const ID_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';

/** A root for temporary folders; `remove()` deletes it. */
export function scratch(prefix: string): { dir: (name?: string) => string; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  let n = 0;
  return {
    dir: (name = `d${++n}`) => {
      const dir = join(root, name);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

export const started = (id: string): JournalEntry => ({ type: 'deployment.started', id, time: '2025-01-01T00:00:00.000Z' });
export const logLine = (seq: number, text: string): LogLine => ({ seq, time: '2025-01-01T00:00:01.000Z', stream: 'stdout', text });
export const log = (id: string, seq: number, text: string): JournalEntry => ({ type: 'deployment.log', id, lines: [logLine(seq, text)] });
/** One `deployment.log` frame holding lines `from`…`to - 1`, each the text `line N`. */
export const logFrame = (id: string, from: number, to: number): JournalEntry => ({
  type: 'deployment.log',
  id,
  lines: Array.from({ length: to - from }, (_, i) => logLine(from + i, `line ${from + i}`)),
});
export const closureSize = (id: string): JournalEntry => ({ type: 'deployment.closure-size', id, closureSize: 1234 });
export const finished = (id: string): JournalEntry => ({
  type: 'deployment.finished',
  id,
  time: '2025-01-01T00:00:02.000Z',
  status: 'Succeeded',
  reason: null,
  activePath: null,
});

/** The same events as the previous agent version wrote them (no id, short type names). */
export const legacyLines = {
  started: '{"type":"started","time":"2025-01-01T00:00:00.000Z"}',
  log: (seq: number, text: string) => JSON.stringify({ type: 'log', seq, time: '2025-01-01T00:00:01.000Z', stream: 'stdout', text }),
  closureSize: '{"type":"closure-size","closureSize":1234}',
  finished: '{"type":"finished","time":"2025-01-01T00:00:02.000Z","status":"Succeeded","reason":null,"activePath":null}',
};
