/** Temporary directories that tests and benchmarks create and remove again. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  /** Absolute path of the new, empty directory. */
  readonly path: string;
  /** Deletes it and everything in it (harmless when already gone). */
  remove(): Promise<void>;
}

/** A fresh directory `PREFIX<random>` under `base` (the OS temp dir by default). */
export async function tempDir(prefix: string, base: string = tmpdir()): Promise<TempDir> {
  const path = await mkdtemp(join(base, prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
