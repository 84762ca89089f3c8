/**
 * Nix's base-32 encoding, as used in store path hashes, narinfo hashes and
 * NAR file names. It is not RFC 4648: the alphabet omits e, o, u and t, and
 * the bytes are read from the end, so the first character holds the highest
 * bits of the last byte.
 */
import { DroverError, NIX_BASE32_ALPHABET } from '@drover/protocol/light';

const DECODE = new Map<string, number>(NIX_BASE32_ALPHABET.split('').map((c, i) => [c, i]));

/** Length of the encoding of `bytes` bytes (52 for a SHA-256, 32 for a store path hash). */
export function nixBase32Length(bytes: number): number {
  return Math.ceil((bytes * 8) / 5);
}

export function toNixBase32(bytes: Uint8Array): string {
  const len = nixBase32Length(bytes.length);
  let out = '';
  for (let n = len - 1; n >= 0; n--) {
    const b = n * 5;
    const i = b >> 3;
    const j = b & 7;
    const c = ((bytes[i] ?? 0) >> j) | (j > 3 && i + 1 < bytes.length ? ((bytes[i + 1] ?? 0) << (8 - j)) & 0xff : 0);
    out += NIX_BASE32_ALPHABET.charAt(c & 0x1f);
  }
  return out;
}

/** Decodes Nix base-32 into `bytes` bytes; throws DROVER_ERR_VALIDATION on a bad character or length. */
export function fromNixBase32(text: string, bytes: number): Buffer {
  if (text.length !== nixBase32Length(bytes)) {
    throw new DroverError('DROVER_ERR_VALIDATION', `nix base-32 text of ${bytes} bytes must be ${nixBase32Length(bytes)} characters (got ${text.length})`);
  }
  const out = Buffer.alloc(bytes);
  for (let n = 0; n < text.length; n++) {
    const char = text.charAt(text.length - 1 - n);
    const digit = DECODE.get(char);
    if (digit === undefined) throw new DroverError('DROVER_ERR_VALIDATION', `${JSON.stringify(char)} is not a nix base-32 character`);
    const b = n * 5;
    const i = b >> 3;
    const j = b & 7;
    out[i] = (out[i] ?? 0) | ((digit << j) & 0xff);
    const carry = digit >> (8 - j);
    if (i + 1 < bytes) out[i + 1] = (out[i + 1] ?? 0) | carry;
    else if (carry) throw new DroverError('DROVER_ERR_VALIDATION', `nix base-32 text ${JSON.stringify(text)} overflows ${bytes} bytes`);
  }
  return out;
}
