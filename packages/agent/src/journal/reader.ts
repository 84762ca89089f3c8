/**
 * Reads one deployment's journal incrementally: each read looks at the file's
 * size and reads only the bytes appended since the last read (in bounded
 * chunks), returning the complete lines; a half-written last line is left for
 * a later read. Every line is checked by the protocol's own decoder, so an
 * entry is a valid `deployment.*` message of this deployment or it is skipped
 * (a torn line from a crash, a line of another deployment). `rewind()` starts
 * over from byte 0 — the agent's replay after a (re)registration.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { decodeAgentMessage } from '@drover/protocol/wire';
import type { JournalEntry } from './entry.js';
import { fromLegacyLine } from './legacy.js';

/** Bytes read at most per `read()` (more only for a single longer line). */
const READ_CHUNK_BYTES = 1024 * 1024;

export interface JournalReaderOptions {
  /** The deployment this journal belongs to (from its order): lines of another id are skipped. */
  readonly deploymentId: string;
  /** Told about every skipped line. */
  readonly onSkipped?: ((line: string, error: string) => void) | undefined;
  readonly chunkBytes?: number | undefined;
}

export class JournalReader {
  private position = 0;

  constructor(
    readonly file: string,
    private readonly opts: JournalReaderOptions,
  ) {}

  /** Bytes of the file consumed so far (always the end of a complete line). */
  get offset(): number {
    return this.position;
  }

  rewind(): void {
    this.position = 0;
  }

  /** The complete entries appended since the last read, up to about one chunk of them. */
  read(): JournalEntry[] {
    let size: number;
    try {
      size = statSync(this.file).size;
    } catch {
      return []; // not written yet
    }
    if (size <= this.position) return [];
    const fd = openSync(this.file, 'r');
    try {
      let length = Math.min(size - this.position, this.opts.chunkBytes ?? READ_CHUNK_BYTES);
      for (;;) {
        const buf = Buffer.allocUnsafe(length);
        const got = readSync(fd, buf, 0, length, this.position);
        const end = buf.subarray(0, got).lastIndexOf(0x0a) + 1;
        if (end > 0) {
          const text = buf.subarray(0, end).toString('utf8');
          this.position += end;
          return this.decode(text);
        }
        if (got < length || this.position + got >= size) return []; // only a half-written line so far
        length = Math.min(size - this.position, length * 2); // one line longer than a chunk
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Hands every complete entry appended since the last read to `visit`, a chunk at a time. */
  drain(visit: (entries: readonly JournalEntry[]) => void): void {
    for (let entries = this.read(); entries.length > 0; entries = this.read()) visit(entries);
  }

  private decode(text: string): JournalEntry[] {
    const entries: JournalEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      const entry = this.decodeLine(line);
      if (typeof entry === 'string') this.opts.onSkipped?.(line, entry);
      else entries.push(entry);
    }
    return entries;
  }

  /** The entry, or why the line is skipped. */
  private decodeLine(line: string): JournalEntry | string {
    let decoded = decodeAgentMessage(line);
    if (!decoded.ok) {
      const legacy = fromLegacyLine(line, this.opts.deploymentId);
      if (legacy === null) return decoded.error;
      decoded = decodeAgentMessage(legacy);
      if (!decoded.ok) return decoded.error;
    }
    const message = decoded.message;
    if (message.type === 'hello' || message.type === 'agent.problems') return `a ${message.type} message is not a journal entry`;
    if (message.id !== this.opts.deploymentId) return `an entry of deployment ${message.id} in the journal of ${this.opts.deploymentId}`;
    return message;
  }
}
