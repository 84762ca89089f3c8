/**
 * The agent's age X25519 identity: the private key its secrets are
 * encrypted to. Made on the first start (`STATE_DIR/age-identity`, or the
 * file given with `--identity PATH`), mode 0600, in the format of
 * `age-keygen` (so `age -d -i FILE` reads it too); its public recipient
 * (`age1…`) goes to the server in every hello. A file others can read is
 * refused: the key would no longer be the agent's alone.
 */
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';

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
async function createIdentity(file: string): Promise<void> {
  const key = await generateX25519Identity();
  const recipient = await identityToRecipient(key);
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
export async function loadIdentity(file: string): Promise<AgentIdentity> {
  try {
    try {
      statSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await createIdentity(file);
    }
    return { file, recipient: await identityToRecipient(readIdentityKey(file)) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(message.includes(file) ? message : `cannot use the age identity ${file}: ${message}`, { cause: err });
  }
}
