/**
 * Journal entries → websocket frames: entries go out as they are, in order,
 * except that log lines of consecutive `deployment.log` entries are batched
 * into frames of at most MAX_LOG_LINES_PER_FRAME lines and about half the
 * frame size limit (lines may hold up to 16 KiB each, more once JSON-escaped).
 */
import { MAX_FRAME_BYTES, MAX_LOG_LINES_PER_FRAME, type LogLine } from '@drover/protocol/wire';
import type { JournalEntry } from './journal/entry.js';

/** A generous estimate of a line's bytes in a frame. */
function lineBytes(line: LogLine): number {
  return Buffer.byteLength(JSON.stringify(line.text)) + 96;
}

export function framesOf(entries: readonly JournalEntry[]): JournalEntry[] {
  const frames: JournalEntry[] = [];
  let id = '';
  let lines: LogLine[] = [];
  let bytes = 0;
  const flush = (): void => {
    if (lines.length > 0) frames.push({ type: 'deployment.log', id, lines });
    lines = [];
    bytes = 0;
  };
  for (const entry of entries) {
    if (entry.type !== 'deployment.log') {
      flush();
      frames.push(entry);
      continue;
    }
    for (const line of entry.lines) {
      const size = lineBytes(line);
      if (entry.id !== id || bytes + size > MAX_FRAME_BYTES / 2 || lines.length >= MAX_LOG_LINES_PER_FRAME) flush();
      id = entry.id;
      lines.push(line);
      bytes += size;
    }
  }
  flush();
  return frames;
}
