/**
 * NARs in a local directory: each upload is written to a temporary file in
 * the same file system (`tmp/`) and renamed into place once complete, so a
 * reader never sees a partial object and a failed upload leaves nothing
 * behind. A full file system fails the upload with
 * DROVER_ERR_INSUFFICIENT_STORAGE (507); what a killed process left in `tmp/`
 * is removed once it is older than the caller's cutoff.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DroverError } from '@drover/protocol';
import type { LocalStorageConfig, NarStorage } from './storage.js';

/** File system errors that mean "no room": a full disk or an exhausted quota. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT']);

function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** A full file system as the client's answer (507, naming the cause); any other error as it is. */
function asStorageError(err: unknown): unknown {
  const code = errnoCode(err);
  if (code === undefined || !NO_SPACE.has(code)) return err;
  return new DroverError(
    'DROVER_ERR_INSUFFICIENT_STORAGE',
    `the binary cache's storage has no space left (${code}${code === 'EDQUOT' ? ': disk quota exceeded' : ': no space left on device'}); the upload was not kept`,
  );
}

/** Bytes per read of a NAR being served. */
const READ_CHUNK_BYTES = 1024 * 1024;

export class LocalStorage implements NarStorage {
  private constructor(private readonly root: string) {}

  static async open(config: LocalStorageConfig): Promise<LocalStorage> {
    const root = resolve(config.dir);
    await mkdir(join(root, 'tmp'), { recursive: true, mode: 0o700 });
    return new LocalStorage(root);
  }

  get description(): string {
    return `local:${this.root}`;
  }

  private path(key: string): string {
    const p = resolve(this.root, key);
    if (!p.startsWith(this.root + sep) || key.includes('\0')) throw new Error(`storage key ${JSON.stringify(key)} leaves the storage directory`);
    return p;
  }

  async write(key: string, body: Readable): Promise<void> {
    const final = this.path(key);
    const tmp = join(this.root, 'tmp', randomUUID());
    try {
      await pipeline(body, createWriteStream(tmp, { mode: 0o600 }));
      const fh = await open(tmp, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await mkdir(dirname(final), { recursive: true });
      await rename(tmp, final);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw asStorageError(err);
    }
  }

  async read(key: string): Promise<Readable | null> {
    // 1 MiB reads instead of 64 KiB: a sixteenth of the read and write calls for a large NAR (the bytes in flight stay bounded by it).
    const stream = createReadStream(this.path(key), { highWaterMark: READ_CHUNK_BYTES });
    return new Promise((ok, fail) => {
      stream.once('open', () => ok(stream));
      stream.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? ok(null) : fail(err)));
    });
  }

  async openFile(key: string): Promise<FileHandle | null> {
    try {
      return await open(this.path(key), 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) await rm(this.path(key), { force: true });
  }

  async removeStaleUploads(cutoff: Date): Promise<number> {
    const dir = join(this.root, 'tmp');
    let removed = 0;
    for (const name of await readdir(dir)) {
      const file = join(dir, name);
      const stat = await lstat(file).catch(() => null);
      if (!stat?.isFile() || stat.mtimeMs >= cutoff.getTime()) continue;
      await unlink(file).then(
        () => removed++,
        () => {}, // gone already (another process swept it)
      );
    }
    return removed;
  }

  async close(): Promise<void> {}
}
