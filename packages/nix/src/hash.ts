/**
 * SHA-256 hashes as narinfos write them. Nix writes `sha256:<nix base-32>`
 * but also reads base-16 and SRI (`sha256-<base64>`); all three parse to the
 * same digest, and `formatNixHash` writes the canonical base-32 form.
 * `HashingCounter` hashes and counts a stream as it passes.
 */
import { createHash, type Hash } from 'node:crypto';
import { Writable } from 'node:stream';
import { DroverError } from '@drover/protocol/light';
import { fromNixBase32, toNixBase32 } from './base32.js';

export const SHA256_BYTES = 32;

/** A SHA-256 digest (32 bytes). */
export type Sha256 = Buffer & { readonly __sha256: true };

/** The three spellings Nix reads, each with the decoder of its digits. */
const HASH_FORMS: readonly (readonly [RegExp, (digits: string) => Buffer])[] = [
  [/^sha256:([0-9abcdfghijklmnpqrsvwxyz]{52})$/, (digits) => fromNixBase32(digits, SHA256_BYTES)],
  [/^sha256:([0-9a-f]{64})$/, (digits) => Buffer.from(digits, 'hex')],
  [/^sha256-([A-Za-z0-9+/]{43}=)$/, (digits) => Buffer.from(digits, 'base64')],
];

export function parseNixHash(text: string): Sha256 {
  const t = text.trim();
  let digest: Buffer | undefined;
  for (const [form, decode] of HASH_FORMS) {
    const digits = form.exec(t)?.[1];
    if (digits !== undefined) {
      digest = decode(digits);
      break;
    }
  }
  if (digest?.length !== SHA256_BYTES) {
    throw new DroverError(
      'DROVER_ERR_VALIDATION',
      `${JSON.stringify(t.slice(0, 80))} is not a sha256 hash (sha256:<nix base-32>, sha256:<hex> or sha256-<base64>)`,
    );
  }
  return digest as Sha256;
}

export function formatNixHash(digest: Uint8Array): string {
  return `sha256:${toNixBase32(digest)}`;
}

export function sha256(data: Uint8Array | string): Sha256 {
  return createHash('sha256').update(data).digest() as Sha256;
}

/** A sink that hashes (SHA-256) and counts every byte written to it. */
export class HashingCounter extends Writable {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  private result: Sha256 | undefined;

  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.update(chunk);
    callback();
  }

  /** The digest; call once everything was written. */
  digest(): Sha256 {
    this.result ??= this.hash.digest() as Sha256;
    return this.result;
  }
}
