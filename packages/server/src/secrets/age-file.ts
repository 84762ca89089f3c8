/**
 * What the server can check of an age file without any key: that the
 * base64 it is given is an age file in the binary format (its first line
 * `age-encryption.org/v1`, a header ending in a `---` MAC line) and how many
 * X25519 recipient stanzas its header has. Nothing here decrypts; the server
 * holds no identity.
 */
import { AGE_HEADER_LINE } from '@drover/protocol';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** The longest header looked at: stanzas are ~110 bytes each. */
const MAX_HEADER_BYTES = 2 * 1024 * 1024;

export type AgeFileCheck = { readonly ok: true; readonly bytes: number; readonly x25519Stanzas: number } | { readonly ok: false; readonly problem: string };

/** Reads the header of a base64 age file; `problem` says what is wrong when it is not one. */
export function checkAgeFile(base64: string): AgeFileCheck {
  if (base64.length === 0 || base64.length % 4 !== 0 || !BASE64.test(base64)) return { ok: false, problem: 'ciphertext is not base64' };
  const bytes = Buffer.from(base64, 'base64');
  const head = bytes.subarray(0, Math.min(bytes.length, MAX_HEADER_BYTES)).toString('latin1');
  if (head.startsWith('-----BEGIN AGE ENCRYPTED FILE-----')) {
    return { ok: false, problem: 'ciphertext is an armored (PEM) age file; send the binary format (drover secret set --encrypted converts it)' };
  }
  if (!head.startsWith(`${AGE_HEADER_LINE}\n`)) return { ok: false, problem: `ciphertext is not an age file (it does not start with "${AGE_HEADER_LINE}")` };
  const end = head.indexOf('\n--- ');
  if (end < 0) return { ok: false, problem: 'ciphertext is not a complete age file (its header has no "---" line)' };
  const lines = head.slice(0, end).split('\n');
  const x25519Stanzas = lines.filter((l) => l.startsWith('-> X25519 ')).length;
  return { ok: true, bytes: bytes.length, x25519Stanzas };
}
