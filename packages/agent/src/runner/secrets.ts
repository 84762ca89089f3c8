/**
 * The runner's part in delivering secrets (../secrets/materialise.ts does
 * the work): an order that carries `secrets` has all of them decrypted
 * right after it starts — a failure ends the deployment Failed before
 * anything is fetched, the profile untouched — and written just before
 * activation, so the activation can use them. A dry run only decrypts. A
 * `secretsOnly` order writes them and finishes without touching the profile.
 * Every step is a line in the deployment's log; no plaintext ever is.
 */
import { resolve } from 'node:path';
import { readActivePath } from '@drover/nix';
import { declaredSecretProblems, readDeclaredSecrets } from '../secrets/declared.js';
import { SecretFailure, secretFailureReason } from '../secrets/failure.js';
import { prepareSecrets, writeSecrets, type PreparedSecrets } from '../secrets/materialise.js';
import type { RunContext } from './run-deployment.js';

function stateDirOf(ctx: RunContext): string {
  return resolve(ctx.dir, '..', '..');
}

/** Says in the log what differs from the configuration's declared secrets (`--declared-secrets`). */
function checkDeclared(ctx: RunContext): void {
  const file = ctx.order.declaredSecretsFile;
  if (file === undefined || file === null) return;
  try {
    for (const problem of declaredSecretProblems(readDeclaredSecrets(file), ctx.order.deployment.secrets ?? [], ctx.order.agent)) {
      ctx.journal.say(`warning: ${problem}`);
    }
  } catch (err) {
    ctx.journal.say(`warning: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Decrypts the order's secrets. Null: the order carries none (an older
 * server: files are left as they are). 'failed': the deployment was
 * finished Failed with the reason.
 */
export async function prepareOrderSecrets(ctx: RunContext): Promise<PreparedSecrets | null | 'failed'> {
  const set = ctx.order.deployment.secrets;
  if (set === undefined) return null;
  checkDeclared(ctx);
  try {
    const prepared = await prepareSecrets(set, ctx.order.identityFile ?? null);
    if (set.length > 0) ctx.journal.say(`${set.length} secret(s) for this agent decrypt: ${set.map((s) => s.name).join(', ')}`);
    return prepared;
  } catch (err) {
    if (!(err instanceof SecretFailure)) throw err;
    ctx.journal.say(err.message);
    ctx.journal.finish('Failed', secretFailureReason(err), await readActivePath(ctx.order.profile));
    return 'failed';
  }
}

/** Writes the prepared secrets and deletes dropped ones; false: the deployment was finished Failed with the reason. */
export async function applyOrderSecrets(ctx: RunContext, prepared: PreparedSecrets | null): Promise<boolean> {
  if (prepared === null) return true;
  try {
    writeSecrets(prepared, { stateDir: stateDirOf(ctx), say: (text) => ctx.journal.say(text) });
    return true;
  } catch (err) {
    if (!(err instanceof SecretFailure)) throw err;
    ctx.journal.say(err.message);
    ctx.journal.finish('Failed', secretFailureReason(err), await readActivePath(ctx.order.profile));
    return false;
  }
}

/** A secrets-only deployment: the secrets are written, the profile stays as it is. */
export async function runSecretsOnly(ctx: RunContext): Promise<void> {
  const active = await readActivePath(ctx.order.profile);
  ctx.journal.say(`secrets-only deployment: the profile stays at ${active ?? 'nothing (never deployed)'}`);
  const prepared = await prepareOrderSecrets(ctx);
  if (prepared === 'failed') return;
  if (!(await applyOrderSecrets(ctx, prepared))) return;
  ctx.phase = 'done';
  ctx.journal.say(`secrets written; the profile was not changed`);
  ctx.journal.finish('Succeeded', null, active);
}
