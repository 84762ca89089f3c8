/**
 * The last secret set the agent applied, kept in its state directory
 * (`STATE_DIR/secrets.json`, 0600): the ciphertext and metadata exactly as
 * the server sent them — never plaintext. It is what the agent writes again
 * when it starts (after a reboot /run is empty) and the manifest of the
 * files it wrote, so a secret dropped from the set has its file deleted.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretOrder } from '@drover/protocol/wire';

function appliedFile(stateDir: string): string {
  return join(stateDir, 'secrets.json');
}

/** The last applied set; empty when none was applied yet (or the file cannot be read: nothing is deleted then). */
export function readApplied(stateDir: string): SecretOrder[] {
  try {
    const parsed = JSON.parse(readFileSync(appliedFile(stateDir), 'utf8')) as { secrets?: SecretOrder[] };
    return Array.isArray(parsed.secrets) ? parsed.secrets : [];
  } catch {
    return [];
  }
}

/** Replaces the applied set atomically (temp file, then rename), mode 0600. */
export function saveApplied(stateDir: string, secrets: readonly SecretOrder[]): void {
  const file = appliedFile(stateDir);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify({ secrets }), { mode: 0o600 });
  renameSync(temp, file);
}
