/**
 * Receiving a NAR upload: the body streams to storage while the server
 * hashes the compressed bytes (FileHash/FileSize) and, through a streaming
 * decompressor (zstd, xz or none), the NAR itself (NarHash/NarSize). A body
 * that stalls for `idleMs` (Nix 2.8 retries a failed PUT with headers and no
 * body), exceeds `maxBytes`, or does not decompress fails at once with a 4xx
 * code and leaves no object in storage.
 */
import { randomUUID } from 'node:crypto';
import { Transform, type Readable, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import lzma from 'lzma-native';
import { DecompressStream } from 'zstd-napi';
import { DroverError } from '@drover/protocol';
import { HashingCounter, narFileName, type NarCompression, type Sha256 } from '@drover/nix';
import type { NarStorage } from './storage/storage.js';

export interface ReceivedNar {
  readonly file: string;
  readonly storageKey: string;
  readonly compression: NarCompression;
  readonly fileHash: Sha256;
  readonly fileSize: number;
  readonly narHash: Sha256;
  readonly narSize: number;
}

export interface ReceiveOptions {
  readonly storage: NarStorage;
  readonly compression: NarCompression;
  readonly idleMs: number;
  readonly maxBytes: number;
}

function decompressor(compression: NarCompression): Transform | null {
  if (compression === 'zstd') return new DecompressStream();
  if (compression === 'xz') return lzma.createDecompressor();
  return null;
}

/**
 * Streams `body` into storage under a fresh key and returns what it
 * measured. The caller decides whether the result matches what was promised
 * and deletes the object if not.
 */
export async function receiveNar(body: Readable, options: ReceiveOptions): Promise<ReceivedNar> {
  const { storage, compression, idleMs, maxBytes } = options;
  const file = new HashingCounter();
  const nar = new HashingCounter();
  const unpack = decompressor(compression);
  let failure: DroverError | undefined;
  let idle: NodeJS.Timeout | undefined;
  const fail = (err: DroverError) => {
    failure ??= err;
    tap.destroy(failure);
  };
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => fail(new DroverError('DROVER_ERR_UPLOAD_TIMEOUT', `no upload data for ${idleMs} ms`)), idleMs);
  };
  const feed = (sink: Writable, chunk: Buffer, done: () => void) => (sink.write(chunk) ? done() : sink.once('drain', done));
  const tap = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      armIdle();
      file.update(chunk);
      if (file.bytes > maxBytes) {
        callback(new DroverError('DROVER_ERR_BODY_TOO_LARGE', `the NAR is larger than the server's limit of ${maxBytes} bytes`));
        return;
      }
      if (!unpack) {
        nar.update(chunk);
        callback(null, chunk);
        return;
      }
      feed(unpack, chunk, () => callback(null, chunk));
    },
    flush(callback) {
      clearTimeout(idle);
      if (!unpack) {
        callback();
        return;
      }
      unpack.end();
      finished(nar).then(
        () => callback(),
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
  if (unpack) {
    unpack.on('error', (err: Error) => fail(new DroverError('DROVER_ERR_NAR_MISMATCH', `the upload is not a valid ${compression} stream: ${err.message}`)));
    unpack.pipe(nar);
  }
  body.on('error', (err) => fail(new DroverError('DROVER_ERR_NAR_MISMATCH', `the upload was cut short: ${err.message}`)));
  body.on('aborted', () => fail(new DroverError('DROVER_ERR_NAR_MISMATCH', 'the upload was cut short (connection closed)')));
  armIdle();
  body.pipe(tap);
  const storageKey = `nar/${randomUUID()}`;
  try {
    await storage.write(storageKey, tap);
  } catch (err) {
    await storage.delete([storageKey]).catch(() => {});
    // The client's fault is a 4xx; a storage failure stays what it is (a 5xx).
    throw failure ?? err;
  } finally {
    clearTimeout(idle);
    body.unpipe(tap);
  }
  const fileHash = file.digest();
  return {
    file: narFileName(fileHash, compression),
    storageKey,
    compression,
    fileHash,
    fileSize: file.bytes,
    narHash: unpack ? nar.digest() : fileHash,
    narSize: unpack ? nar.bytes : file.bytes,
  };
}
