/**
 * The webhook secrets at rest, and signing with them.
 *
 * A hook's secret must be usable to sign every delivery, so it is stored
 * encrypted (AES-256-GCM, the hook id as associated data) under the
 * server's webhook key: 32 random bytes in a file, by default
 * DATA_DIR/webhook.key (0600), created on first start. A database dump alone
 * therefore holds no usable secret. Replicas sharing PostgreSQL must share
 * the key file (`webhook_key_file`). Each sealed secret names its key
 * (`v1:KEYID:…`, KEYID a hash of the key): a replica with another key never
 * claims those deliveries (a replica with the right one sends them) and
 * says so in its log; it never sends an unsigned or wrongly signed request.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { WEBHOOK_SECRET_PREFIX } from '@drover/protocol';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1';

const MISMATCH = "the webhook's secret does not decrypt with this server's webhook key (replicas must share one webhook_key_file); nothing was sent";

/** Thrown when a stored secret does not open with this server's key. */
class SecretKeyMismatch extends Error {}

/** The key file's 32 bytes, creating the file (0600; written aside and linked in, so processes starting together agree on one whole key) when it is missing. */
export function loadWebhookKey(file: string): Buffer {
  try {
    return parseKey(file, readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(aside, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(aside, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(aside);
  }
  return parseKey(file, readFileSync(file, 'utf8'));
}

function parseKey(file: string, text: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES)
    throw new Error(`webhook key file ${file} must hold ${KEY_BYTES} bytes in base64 (got ${key.length}); remove it to have a new one made`);
  return key;
}

export class SecretBox {
  /** Names the key (not secret: a hash of it) in every sealed secret, so a sender can tell a secret it cannot open without trying. */
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  /** The prefix of every secret this box seals (what the sender's query matches). */
  get sealedPrefix(): string {
    return `${VERSION}:${this.keyId}:`;
  }

  /** A new hook secret: `whsec_` and 32 random bytes in base64url. */
  static newSecret(): string {
    return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
  }

  seal(secret: string, webhookId: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(webhookId));
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return `${this.sealedPrefix}${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  open(sealed: string, webhookId: string): string {
    const [version, keyId, data] = sealed.split(':');
    if (version !== VERSION || data === undefined) throw new SecretKeyMismatch('the stored webhook secret has an unknown format');
    if (keyId !== this.keyId) throw new SecretKeyMismatch(MISMATCH);
    const raw = Buffer.from(data, 'base64');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(webhookId));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretKeyMismatch(MISMATCH);
    }
  }
}

/** The X-Drover-Signature value of a body: `sha256=` and the hex HMAC-SHA256 keyed with the secret text. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}
