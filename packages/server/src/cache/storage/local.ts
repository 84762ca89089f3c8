/**
 * NARs in a local directory: each upload is written to a temporary file in
 * the same file system and renamed into place once complete, so a reader
 * never sees a partial object and a failed upload leaves nothing behind.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { LocalStorageConfig, NarStorage } from './storage.js';

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
      throw err;
    }
  }

  async read(key: string): Promise<Readable | null> {
    const stream = createReadStream(this.path(key));
    return new Promise((ok, fail) => {
      stream.once('open', () => ok(stream));
      stream.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? ok(null) : fail(err)));
    });
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) await rm(this.path(key), { force: true });
  }

  async close(): Promise<void> {}
}
