/**
 * Decrypts the secrets of one order with the agent's identity, all of them
 * before anything is written: one that does not decrypt stops the whole
 * set, with a reason saying which secret and why (not encrypted to this
 * agent, or a ciphertext that was damaged or tampered with — age
 * authenticates every byte, so a changed byte is never written as a secret).
 * age-encryption is imported only here, when there is something to decrypt:
 * this runs in the deployment runner and the agent's start-up child
 * (secrets-at-start.ts), never in the long-lived agent process.
 */
import type { Decrypter } from 'age-encryption';
import type { SecretOrder } from '@drover/protocol/wire';
import { readIdentityKey, recipientOf } from './identity.js';
import { SecretFailure } from './failure.js';

export interface DecryptedSecret {
  readonly order: SecretOrder;
  readonly plaintext: Uint8Array;
}

const ARMOR_HEADER = '-----BEGIN AGE ENCRYPTED FILE-----';

/** The binary age file of a secret's ciphertext (base64 of the binary format; an armored file is accepted too). */
function ageFile(ciphertext: string, armor: { decode(text: string): Uint8Array }): Uint8Array {
  const bytes = Buffer.from(ciphertext, 'base64');
  const head = bytes.subarray(0, ARMOR_HEADER.length).toString('latin1');
  return head === ARMOR_HEADER ? armor.decode(bytes.toString('latin1')) : new Uint8Array(bytes);
}

/**
 * Decrypts one age file, reading the plaintext stream here: age-encryption's
 * own read of a Uint8Array goes through `Response`, whose undici parser is
 * WebAssembly, which the agent's V8 lite mode (bin/drover) does not have.
 */
async function decryptFile(decrypter: Decrypter, file: Uint8Array): Promise<Uint8Array> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(file);
      controller.close();
    },
  });
  const reader = (await decrypter.decrypt(source)).getReader();
  const chunks: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    chunks.push(value);
  }
}

/** Why age refused a file, in words: not ours, or damaged. */
function whyNot(err: unknown, recipient: string): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/no identity matched/i.test(message)) {
    return `it is not encrypted to this agent's recipient ${recipient} (set it again with \`drover secret set\`, which encrypts to the recipient the agent has now)`;
  }
  return `its ciphertext is damaged or was tampered with (age: ${message})`;
}

/**
 * Every secret of `secrets` decrypted with the identity in `identityFile`.
 * Throws a SecretFailure naming the first one that does not decrypt.
 */
export async function decryptSecrets(secrets: readonly SecretOrder[], identityFile: string | null): Promise<DecryptedSecret[]> {
  if (secrets.length === 0) return [];
  if (identityFile === null) throw new SecretFailure('this agent was started without an age identity, so it cannot decrypt secrets');
  let key: string;
  try {
    key = readIdentityKey(identityFile);
  } catch (err) {
    throw new SecretFailure(`cannot read the agent's age identity: ${err instanceof Error ? err.message : String(err)}`);
  }
  const recipient = recipientOf(key);
  const age = await import('age-encryption');
  const decrypter = new age.Decrypter();
  decrypter.addIdentity(key);
  const out: DecryptedSecret[] = [];
  for (const order of secrets) {
    try {
      out.push({ order, plaintext: await decryptFile(decrypter, ageFile(order.ciphertext, age.armor)) });
    } catch (err) {
      throw new SecretFailure(`secret "${order.name}" (version ${order.version}) cannot be decrypted: ${whyNot(err, recipient)}`);
    }
  }
  return out;
}
