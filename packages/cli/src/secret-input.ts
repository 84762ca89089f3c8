/**
 * What `drover secret set` uploads: the plaintext read from a file or stdin
 * and encrypted here with age (X25519) to every target's recipient, or a
 * file already encrypted with the `age` command (binary or armored, sent in
 * the binary format). The plaintext never leaves this process.
 */
import { readFileSync } from 'node:fs';
import { Encrypter, armor } from 'age-encryption';
import { AGE_HEADER_LINE, DroverError, MAX_SECRET_BYTES } from '@drover/protocol';

const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';

function readInput(file: string | undefined, what: string): Buffer {
  try {
    return file === undefined || file === '-' ? readFileSync(0) : readFileSync(file);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new DroverError('DROVER_ERR_INVALID_SECRET', `cannot read the ${what} from ${file ?? 'stdin'}: ${reason}`);
  }
}

/** The plaintext, checked against the size limit. */
export function readPlaintext(file: string | undefined): Uint8Array {
  const data = readInput(file, 'secret');
  if (data.length > MAX_SECRET_BYTES) {
    throw new DroverError('DROVER_ERR_SECRET_LIMIT', `the secret is ${data.length} bytes, over the limit of ${MAX_SECRET_BYTES} (64 KiB)`);
  }
  return data;
}

/** Encrypts to each target's recipient (once each), giving the age file in binary format; a recipient age cannot read is named with its agent. */
export async function encryptTo(plaintext: Uint8Array, targets: readonly { agent: string; recipient: string }[]): Promise<Uint8Array> {
  const e = new Encrypter();
  const added = new Set<string>();
  for (const { agent, recipient } of targets) {
    if (added.has(recipient)) continue;
    added.add(recipient);
    try {
      e.addRecipient(recipient);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new DroverError(
        'DROVER_ERR_NO_RECIPIENT',
        `agent ${agent}'s recipient ${recipient} is not a valid age X25519 recipient (${reason}); nothing was stored`,
      );
    }
  }
  return e.encrypt(plaintext);
}

/** An age file made elsewhere (`age -r …`), in binary format: armored files are decoded. */
export function readEncrypted(file: string): Uint8Array {
  const data = readInput(file, 'encrypted file');
  const text = data.subarray(0, 64).toString('latin1').trimStart();
  let binary: Uint8Array = data;
  if (text.startsWith(ARMOR_BEGIN)) {
    try {
      binary = armor.decode(data.toString('latin1'));
    } catch (err) {
      throw new DroverError('DROVER_ERR_INVALID_SECRET', `${file} is not a valid armored age file: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (!Buffer.from(binary.subarray(0, AGE_HEADER_LINE.length + 1)).equals(Buffer.from(`${AGE_HEADER_LINE}\n`))) {
    throw new DroverError(
      'DROVER_ERR_INVALID_SECRET',
      `${file} is not an age file (it does not start with "${AGE_HEADER_LINE}"); encrypt it with \`age -r RECIPIENT\``,
    );
  }
  return binary;
}
