/**
 * The agent's age X25519 identity: the private key its secrets are
 * encrypted to. Made on the first start (`STATE_DIR/age-identity`, or the
 * file given with `--identity PATH`), mode 0600, in the format of
 * `age-keygen` (so `age -d -i FILE` reads it too); its public recipient
 * (`age1…`) goes to the server in every hello. A file others can read is
 * refused: the key would no longer be the agent's alone.
 *
 * The key is made and its recipient computed with node:crypto's X25519 and
 * bech32.ts, not an age library: the long-lived agent process never loads
 * one (only the short-lived processes that decrypt do: decrypt.ts).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bech32Decode, bech32Encode } from './bech32.js';

/** The DER prefix of a PKCS#8 X25519 private key; the 32 key bytes follow. */
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** The `age1…` recipient of an `AGE-SECRET-KEY-1…` identity; throws when it is not one. */
export function recipientOf(identity: string): string {
  const decoded = bech32Decode(identity);
  if (decoded?.prefix !== 'age-secret-key-' || decoded.bytes.length !== 32) throw new Error('not a valid AGE-SECRET-KEY-1… line');
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, decoded.bytes]), format: 'der', type: 'pkcs8' });
  const x = createPublicKey(key).export({ format: 'jwk' }).x ?? '';
  return bech32Encode('age', Buffer.from(x, 'base64url'));
}

/** A new X25519 identity in age's encoding. */
function generateIdentity(): string {
  const d = generateKeyPairSync('x25519').privateKey.export({ format: 'jwk' }).d ?? '';
  return bech32Encode('age-secret-key-', Buffer.from(d, 'base64url')).toUpperCase();
}

/** The identity's file and public recipient; the private key stays in the file (the runner reads it when it decrypts). */
export interface AgentIdentity {
  readonly file: string;
  readonly recipient: string;
}

/** Where the identity is kept when `--identity` is not given. */
export function defaultIdentityFile(stateDir: string): string {
  return join(stateDir, 'age-identity');
}

/** The `AGE-SECRET-KEY-1…` line of an identity file's text (comments and blank lines skipped), or null. */
function secretKeyLine(text: string): string | null {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.startsWith('AGE-SECRET-KEY-1')) ?? null
  );
}

/** The private key in `file`; throws a sentence naming the file when it is missing, unsafe or not an age identity. */
export function readIdentityKey(file: string): string {
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`the age identity ${file} is readable by others (mode 0${mode.toString(8)}): run \`chmod 600 ${file}\``);
  }
  const key = secretKeyLine(readFileSync(file, 'utf8'));
  if (key === null) throw new Error(`${file} holds no age identity (an AGE-SECRET-KEY-1… line, as \`age-keygen\` writes)`);
  return key;
}

/** Writes a new identity to `file` unless one is there: created under a temporary name, then linked into place (a second agent racing us keeps its own). */
function createIdentity(file: string): void {
  const key = generateIdentity();
  const recipient = recipientOf(key);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${key}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * The agent's identity, made first if `file` does not exist. Throws a
 * sentence naming the file and the fix when it cannot be made or read.
 */
export function loadIdentity(file: string): AgentIdentity {
  try {
    try {
      statSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      createIdentity(file);
    }
    return { file, recipient: recipientOf(readIdentityKey(file)) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(message.includes(file) ? message : `cannot use the age identity ${file}: ${message}`, { cause: err });
  }
}
