/**
 * The secrets step of an agent's start, run in a short-lived child process
 * (`node runner/main.js --secrets-at-start STATE_DIR IDENTITY`, started by
 * agent.ts) so that the long-lived agent process never loads age nor holds
 * a plaintext: writes the missing files of the last applied set again
 * (after a reboot /run is empty). Each line it says goes to stdout; a
 * failure is one line on stderr and exit status 1.
 */
import { readApplied } from './applied.js';
import { SecretFailure } from './failure.js';
import { prepareSecrets, writeSecrets } from './materialise.js';

/** The argv word that makes runner/main.js this step instead of a deployment runner. */
export const SECRETS_AT_START = '--secrets-at-start';

export async function secretsAtStart(stateDir: string, identityFile: string): Promise<number> {
  try {
    const prepared = await prepareSecrets(readApplied(stateDir), identityFile);
    writeSecrets(prepared, { stateDir, onlyMissing: true, say: (text) => process.stdout.write(`${text}\n`) });
    return 0;
  } catch (err) {
    process.stderr.write(`${err instanceof SecretFailure || err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
