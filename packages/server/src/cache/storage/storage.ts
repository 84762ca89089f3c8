/**
 * The storage seam of the built-in binary cache: where NAR bytes live. The
 * database says which objects exist; storage only holds bytes under keys the
 * server chose (unique per upload). Local directory by default, any
 * S3-compatible object store as an option. Bytes stream in and out.
 * Types only; open.ts opens one.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

export interface NarStorage {
  /** What the log and `drover cache info` say about it, e.g. `local:/var/lib/drover/cache`. */
  readonly description: string;
  /** Streams `body` to a new object; on failure nothing is left under `key`. */
  write(key: string, body: Readable): Promise<void>;
  /** The object's bytes; null when it does not exist. */
  read(key: string): Promise<Readable | null>;
  /** The object as an open local file (served without a stream, see send-file.ts); null when it does not exist. Local storage only. */
  openFile?(key: string): Promise<FileHandle | null>;
  /** Removes objects; missing ones are not an error. */
  delete(keys: readonly string[]): Promise<void>;
  /**
   * Removes what uploads cut off by a crash (SIGKILL, power loss) left behind
   * and last wrote to before `cutoff`; returns how many. A live upload writes
   * at least every upload idle timeout, so a cutoff well before that never
   * touches one, whichever process (`--workers`, replicas) is receiving it.
   */
  removeStaleUploads(cutoff: Date): Promise<number>;
  close(): Promise<void>;
}

export interface LocalStorageConfig {
  readonly kind: 'local';
  readonly dir: string;
}

export interface S3StorageConfig {
  readonly kind: 's3';
  readonly bucket: string;
  readonly region?: string | undefined;
  /** e.g. http://127.0.0.1:9000 for MinIO or moto; path-style addressing is used. */
  readonly endpoint?: string | undefined;
  readonly prefix?: string | undefined;
  readonly accessKeyId?: string | undefined;
  readonly secretAccessKey?: string | undefined;
}

export type StorageConfig = LocalStorageConfig | S3StorageConfig;
