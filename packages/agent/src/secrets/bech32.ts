/**
 * Bech32 (BIP 173), as age writes its keys: `age1…` recipients and
 * `AGE-SECRET-KEY-1…` identities (age puts no length limit on it). Written
 * here so the agent process needs no age library to make its identity or
 * tell its recipient (age-encryption alone costs the idle agent ~6 MiB).
 */
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i] ?? 0;
  }
  return chk;
}

function expandPrefix(prefix: string): number[] {
  const codes = Array.from({ length: prefix.length }, (_, i) => prefix.charCodeAt(i));
  return [...codes.map((c) => c >>> 5), 0, ...codes.map((c) => c & 31)];
}

/** Regroups bits (8 → 5 with padding, 5 → 8 without); null when the padding is not zero. */
function regroup(data: Iterable<number>, from: number, to: number, pad: boolean): number[] | null {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const max = (1 << to) - 1;
  for (const value of data) {
    acc = ((acc << from) | value) & 0xffffff;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >>> bits) & max);
    }
  }
  if (pad && bits > 0) out.push((acc << (to - bits)) & max);
  else if (!pad && (bits >= from || ((acc << (to - bits)) & max) !== 0)) return null;
  return out;
}

/** `prefix` (lower case) + "1" + the data and checksum, lower case. */
export function bech32Encode(prefix: string, bytes: Uint8Array): string {
  const data = regroup(bytes, 8, 5, true) ?? [];
  const mod = polymod([...expandPrefix(prefix), ...data, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum = [0, 1, 2, 3, 4, 5].map((i) => (mod >>> (5 * (5 - i))) & 31);
  return `${prefix}1${[...data, ...checksum].map((d) => CHARSET[d]).join('')}`;
}

/** The prefix and bytes of a bech32 string (either case, not mixed), or null when it is not one. */
export function bech32Decode(text: string): { prefix: string; bytes: Uint8Array } | null {
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) return null;
  const lower = text.toLowerCase();
  const at = lower.lastIndexOf('1');
  if (at < 1 || lower.length - at < 7) return null;
  const prefix = lower.slice(0, at);
  const values = Array.from({ length: lower.length - at - 1 }, (_, i) => CHARSET.indexOf(lower.charAt(at + 1 + i)));
  if (values.some((v) => v < 0) || polymod([...expandPrefix(prefix), ...values]) !== 1) return null;
  const bytes = regroup(values.slice(0, -6), 5, 8, false);
  return bytes === null ? null : { prefix, bytes: Uint8Array.from(bytes) };
}
