/**
 * Ed25519 signing keys in Nix's format, with node:crypto alone.
 *
 * A secret key reads `NAME:base64(seed32 ‖ public32)`, a public key
 * `NAME:base64(public32)`, a signature `NAME:base64(sig64)`. What is signed
 * is a path's fingerprint: `1;STOREPATH;NARHASH;NARSIZE;REF1,REF2…` with the
 * NAR hash as `sha256:<nix base-32>` and references as full store paths.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { DroverError, STORE_DIR } from '@drover/protocol/light';
import { formatNixHash } from './hash.js';
import type { Narinfo } from './narinfo.js';

const KEY_NAME_RE = /^[A-Za-z0-9._-]{1,128}$/;

export interface SigningKey {
  readonly name: string;
  /** `NAME:base64(seed ‖ public)`, as `nix-store --generate-binary-cache-key` writes it. */
  readonly secret: string;
  /** `NAME:base64(public)`, for `trusted-public-keys`. */
  readonly publicKey: string;
  readonly privateKey: KeyObject;
}

export interface VerifyingKey {
  readonly name: string;
  readonly publicKey: KeyObject;
}

function splitKey(text: string, bytes: number, what: string): { name: string; raw: Buffer } {
  const colon = text.indexOf(':');
  const name = text.slice(0, colon);
  const raw = Buffer.from(text.slice(colon + 1), 'base64');
  if (colon <= 0 || !KEY_NAME_RE.test(name) || raw.length !== bytes) {
    throw new DroverError('DROVER_ERR_VALIDATION', `${what} must be NAME:BASE64 of ${bytes} bytes`);
  }
  return { name, raw };
}

function jwk(raw: { seed?: Buffer; pub: Buffer }): { kty: 'OKP'; crv: 'Ed25519'; x: string; d?: string } {
  return { kty: 'OKP', crv: 'Ed25519', x: raw.pub.toString('base64url'), ...(raw.seed ? { d: raw.seed.toString('base64url') } : {}) };
}

export function parseSecretKey(text: string): SigningKey {
  const { name, raw } = splitKey(text.trim(), 64, 'a secret key');
  const pub = raw.subarray(32);
  const privateKey = createPrivateKey({ key: jwk({ seed: raw.subarray(0, 32), pub }), format: 'jwk' });
  return { name, secret: text.trim(), publicKey: `${name}:${pub.toString('base64')}`, privateKey };
}

export function parsePublicKey(text: string): VerifyingKey {
  const { name, raw } = splitKey(text.trim(), 32, 'a public key');
  return { name, publicKey: createPublicKey({ key: jwk({ pub: raw }), format: 'jwk' }) };
}

/** A new key named `name` (conventionally `something-1`). */
export function generateSigningKey(name: string): SigningKey {
  if (!KEY_NAME_RE.test(name))
    throw new DroverError('DROVER_ERR_VALIDATION', `key name ${JSON.stringify(name)} must be 1-128 letters, digits, ".", "_" or "-"`);
  const { privateKey } = generateKeyPairSync('ed25519');
  const { d, x } = privateKey.export({ format: 'jwk' });
  if (d === undefined || x === undefined) throw new DroverError('DROVER_ERR_INTERNAL', 'node:crypto exported an Ed25519 key without its d or x');
  const seed = Buffer.from(d, 'base64url');
  const pub = Buffer.from(x, 'base64url');
  return parseSecretKey(`${name}:${Buffer.concat([seed, pub]).toString('base64')}`);
}

/** What a narinfo's signatures cover. */
export function fingerprint(info: Pick<Narinfo, 'storePath' | 'narHash' | 'narSize' | 'references'>): string {
  const refs = info.references.map((r) => `${STORE_DIR}/${r}`).join(',');
  return `1;${info.storePath};${formatNixHash(info.narHash)};${info.narSize};${refs}`;
}

/** `NAME:base64(signature)` of the fingerprint. */
export function signNarinfo(key: SigningKey, info: Parameters<typeof fingerprint>[0]): string {
  return `${key.name}:${sign(null, Buffer.from(fingerprint(info)), key.privateKey).toString('base64')}`;
}

/** Whether `sig` (exactly `NAME:base64`, nothing around it) is a valid signature of `info` by one of `keys` (matched by name). */
export function verifyNarinfoSig(sig: string, info: Parameters<typeof fingerprint>[0], keys: readonly VerifyingKey[]): boolean {
  // Node's base64 decoder skips what is not base64, so the text is matched whole first.
  const [, name, base64] = /^([^\s:]+):([A-Za-z0-9+/]{86}==)$/.exec(sig) ?? [];
  if (name === undefined || base64 === undefined) return false;
  const raw = Buffer.from(base64, 'base64');
  if (raw.length !== 64) return false;
  const data = Buffer.from(fingerprint(info));
  return keys.some((k) => k.name === name && verify(null, data, k.publicKey, raw));
}
