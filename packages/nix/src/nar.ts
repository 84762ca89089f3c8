/**
 * Serialising a store path as a NAR (Nix ARchive), the format binary caches
 * hold, without spawning `nix-store --dump`: regular files (with the
 * executable bit), symlinks and directories (entries sorted bytewise), every
 * string length-prefixed (u64 little-endian) and padded to 8 bytes. Files are
 * streamed, so memory stays flat for large paths.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';

const ZEROS = Buffer.alloc(8);
const SMALL_FILE = 256 * 1024;

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

function padding(n: number): Buffer {
  return ZEROS.subarray(0, (8 - (n % 8)) % 8);
}

function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([u64(b.length), b, padding(b.length)]);
}

async function* node(path: string): AsyncGenerator<Buffer> {
  const st = await lstat(path);
  yield str('(');
  if (st.isSymbolicLink()) {
    yield Buffer.concat([str('type'), str('symlink'), str('target'), str(await readlink(path, { encoding: 'buffer' }))]);
  } else if (st.isFile()) {
    yield Buffer.concat([str('type'), str('regular'), ...(st.mode & 0o100 ? [str('executable'), str('')] : []), str('contents'), u64(st.size)]);
    let sent = 0;
    for await (const chunk of createReadStream(path, st.size <= SMALL_FILE ? { highWaterMark: SMALL_FILE } : {})) {
      sent += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
    if (sent !== st.size) throw new Error(`${path} changed size while it was read (${st.size} → ${sent} bytes)`);
    yield padding(st.size);
  } else if (st.isDirectory()) {
    yield Buffer.concat([str('type'), str('directory')]);
    const names = (await readdir(path, { encoding: 'buffer' })).sort(Buffer.compare);
    for (const name of names) {
      yield Buffer.concat([str('entry'), str('('), str('name'), str(name), str('node')]);
      yield* node(join(path, name.toString()));
      yield str(')');
    }
  } else {
    throw new Error(`${path} is neither a file, a directory nor a symlink`);
  }
  yield str(')');
}

async function* archive(path: string): AsyncGenerator<Buffer> {
  yield str('nix-archive-1');
  yield* node(path);
}

/** The NAR serialisation of `path` as a byte stream. */
export function dumpNar(path: string): Readable {
  return Readable.from(archive(path), { objectMode: false });
}
