/**
 * One deployment, start to finish, as the detached runner process does it:
 *
 *  1. take the profile lock;
 *  2. check that the closure fits the store's free space (free-space.ts),
 *     then substitute it (and the rollback script) — signatures required;
 *     on failure the profile is not touched;
 *  3. record closure size, detect the profile type, remember what is active,
 *     read and validate drover-checks.json (a bad file stops here);
 *  4. activate, killed (its whole process group) after the activation timeout;
 *  5. confirm: the server is reached again within the confirm timeout (the
 *     runner decides alone: a cut network means rollback), the health checks
 *     of drover-checks.json pass (checks/), the rollbackScript passes;
 *  6. on any failure in 4–5, re-activate the remembered store path.
 *
 * A dry run (`order.deployment.dry`) does 1–3, then the profile's dry
 * activation instead of 4–6 (dry-run.ts): nothing is switched.
 *
 * The order's secrets (secrets.ts) are decrypted right after 1 — one that
 * does not decrypt fails the deployment before anything is fetched — and
 * written just before 4; a dry run only decrypts them. A secrets-only order
 * writes them after 1 and ends there: the profile is not touched.
 *
 * Every command is echoed as `$ …` and its output streamed to the journal.
 * If the journal cannot be written (a full state directory), the deployment
 * stops at the next point before activation and fails with that reason;
 * once activation began it goes on to the end.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  activationCommands,
  closureSizeCommand,
  describeFailure,
  detectProfileType,
  formatCommand,
  parseClosureSize,
  readActivePath,
  runCommand,
  substituteCommand,
  type Command,
  type CommandResult,
} from '@drover/nix';
import { DEADLINES, formatDuration, type StorePath } from '@drover/protocol';
import type { RunnerOrder } from '../state.js';
import type { Journal } from './journal.js';
import { acquireProfileLock } from './lock.js';
import { resolveCache } from './builtin-cache.js';
import { describeWriteFailure } from '../write-failure.js';
import { readChecks, runChecks } from './checks/run-checks.js';
import { checkFreeSpace } from './free-space.js';
import { serverReachable } from './confirm.js';
import { reportDiff } from './diff.js';
import { dryRun } from './dry-run.js';
import { applyOrderSecrets, prepareOrderSecrets, runSecretsOnly } from './secrets.js';

/** `dry-run`: the dry activation of a dry run (dry-run.ts), which may be cancelled like fetching: it switches nothing. */
type Phase = 'waiting' | 'fetching' | 'dry-run' | 'activating' | 'checking' | 'rolling-back' | 'done';

export interface RunContext {
  /** The deployment's folder in the agent's state directory. */
  readonly dir: string;
  readonly order: RunnerOrder;
  readonly journal: Journal;
  /** The agent token, for the reachability check; from the environment, never a file. */
  readonly token: string | undefined;
  /** Aborted when the agent asks to cancel; honoured only before activation starts. */
  readonly cancel: AbortSignal;
  phase: Phase;
}

class Cancelled extends Error {}

/** The journal cannot be written: stop before activation. */
class Unrecordable extends Error {}

/** Runs one command, echoed first; `cancellable` commands stop when the deployment is cancelled; `seen` gets each output line too. */
async function step(ctx: RunContext, command: Command, cancellable = false, timeoutMs?: number, seen?: (text: string) => void): Promise<CommandResult> {
  ctx.journal.line('agent', `$ ${formatCommand(command.argv)}`);
  return runCommand(command, {
    onLine: (stream, text) => {
      ctx.journal.line(stream, text);
      seen?.(text);
    },
    ...(cancellable ? { signal: ctx.cancel } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
}

/** The points before activation where a deployment may stop: cancelled, or nothing it does can be recorded. */
function throwIfCancelled(ctx: RunContext): void {
  if (ctx.cancel.aborted) throw new Cancelled();
  if (ctx.journal.writeFailure !== null) throw new Unrecordable(describeWriteFailure(ctx.journal.writeFailure, resolve(ctx.dir, '..', '..')));
}

/** Runs the activation commands of `path`; all of them together get the activation timeout, then their process group is killed. */
async function activate(ctx: RunContext, path: StorePath): Promise<string | null> {
  const type = await detectProfileType(path);
  const timeoutMs = ctx.order.activationTimeoutMs ?? DEADLINES.activationTimeout.default;
  const deadline = Date.now() + timeoutMs;
  for (const command of activationCommands(type, ctx.order.profile, path)) {
    const result = await step(ctx, command, false, Math.max(1, deadline - Date.now()));
    if (result.timedOut) {
      const why = `${formatCommand(command.argv)} was still running after the activation timeout of ${formatDuration(timeoutMs)} and was killed with everything it started`;
      ctx.journal.say(why);
      return why;
    }
    if (result.code !== 0) return describeFailure(command, result);
  }
  return null;
}

async function rollBack(ctx: RunContext, failure: string, previous: StorePath | null): Promise<void> {
  const { journal } = ctx;
  ctx.phase = 'rolling-back';
  if (!previous) {
    journal.say(`nothing to roll back to: this was the first deployment to ${ctx.order.profile}`);
    journal.finish('Failed', `${failure}; first deployment to this profile, so there was nothing to roll back to`, await readActivePath(ctx.order.profile));
    return;
  }
  journal.say(`rolling back: re-activating the previously active ${previous}`);
  const rollbackFailure = await activate(ctx, previous);
  if (rollbackFailure) {
    journal.say(`ROLLBACK FAILED: ${rollbackFailure}`);
    journal.finish('Failed', `${failure}; rollback to ${previous} also failed: ${rollbackFailure}`, await readActivePath(ctx.order.profile));
    return;
  }
  journal.say(`rolled back to ${previous}`);
  journal.finish('Failed', `${failure}; rolled back to ${previous}`, previous);
}

export async function runDeployment(ctx: RunContext): Promise<void> {
  const { order, journal } = ctx;
  const { deployment } = order;
  const storePath = deployment.storePath as StorePath;
  try {
    ctx.phase = 'waiting';
    throwIfCancelled(ctx);
    mkdirSync(dirname(order.profile), { recursive: true });
    const release = await acquireProfileLock(order.profile, {
      signal: ctx.cancel,
      onWait: (pid) => journal.say(`waiting for the deployment in process ${pid} to finish with ${order.profile}`),
    });
    try {
      // A second runner for the same deployment (the agent restarted before the first wrote
      // its PID) waits on the lock above and must not run it again.
      if (journal.finishedElsewhere()) return;
      journal.started();
      journal.say(`deployment #${deployment.index} of ${storePath} to profile ${order.profile} (agent ${order.agent})`);
      if (deployment.secretsOnly) {
        await runSecretsOnly(ctx);
        return;
      }
      const secrets = await prepareOrderSecrets(ctx);
      if (secrets === 'failed') return;
      throwIfCancelled(ctx);

      ctx.phase = 'fetching';
      const paths = [storePath, ...(deployment.rollbackScript ? [deployment.rollbackScript as StorePath] : [])];
      const cache = resolveCache(order.cache, order.server, ctx.token, join(ctx.dir, '..', '..'));
      if (cache.source) journal.say(`fetching from ${cache.source.substituter} and this machine's own substituters`);
      const options = { cacheHome: join(ctx.dir, '..', '..', 'cache'), netrcFile: cache.netrcFile };
      const noSpace = await checkFreeSpace(journal, substituteCommand(paths, cache.source, { ...options, dryRun: true }), {
        cancel: ctx.cancel,
        reserveBytes: order.storeReserveBytes ?? 0,
      });
      throwIfCancelled(ctx);
      if (noSpace) {
        journal.finish('Failed', `${noSpace}; nothing was fetched and the profile was not changed`, await readActivePath(order.profile));
        return;
      }
      const substitute = substituteCommand(paths, cache.source, { ...options, gcRoot: join(ctx.dir, 'gcroot') });
      let fetched = await step(ctx, substitute, true);
      if (fetched.code !== 0 && !ctx.cancel.aborted && fetched.stderrTail.some((l) => /SQLite|database is locked/i.test(l))) {
        journal.say('Nix hit a transient database error; trying once more');
        fetched = await step(ctx, substitute, true);
      }
      throwIfCancelled(ctx);
      if (fetched.code !== 0) {
        const last =
          [...fetched.stderrTail].reverse().find((l) => /error|not signed|no substituter|don't know how/i.test(l)) ?? fetched.stderrTail.at(-1) ?? '';
        journal.finish(
          'Failed',
          `could not fetch ${storePath}: ${last.trim() || `nix-store exited with code ${fetched.code}`}; the profile was not changed`,
          await readActivePath(order.profile),
        );
        return;
      }
      const sizeCommand = closureSizeCommand(storePath);
      const size = await runCommand(sizeCommand, { captureStdout: true });
      const closureSize = size.code === 0 ? parseClosureSize(size.stdout) : null;
      if (closureSize !== null) {
        journal.closureSize(closureSize);
        journal.say(`closure size: ${(closureSize / 1024 / 1024).toFixed(1)} MiB`);
      }

      const type = await detectProfileType(storePath);
      const previous = await readActivePath(order.profile);
      journal.say(`profile type: ${type}; active now: ${previous ?? 'nothing (first deployment)'}`);
      if (deployment.wantDiff) await reportDiff(journal, previous, storePath);
      const checks = readChecks(storePath);
      if (!checks.ok) {
        journal.finish('Failed', `${checks.error}; the profile was not changed`, previous);
        return;
      }
      throwIfCancelled(ctx);
      if (deployment.dry) {
        if (secrets !== null && secrets.set.length > 0) journal.say('dry run: the secrets are not written');
        ctx.phase = 'dry-run';
        await dryRun(journal, order, { type, storePath, active: previous }, async (command, timeoutMs, seen) => {
          const result = await step(ctx, command, true, timeoutMs, seen);
          throwIfCancelled(ctx);
          return result;
        });
        return;
      }
      if (checks.checks.length > 0) journal.say(`${String(checks.checks.length)} health check(s) from drover-checks.json will run after activation`);
      if (!(await applyOrderSecrets(ctx, secrets))) return;

      ctx.phase = 'activating';
      const activationFailure = await activate(ctx, storePath);
      if (activationFailure) {
        await rollBack(ctx, `activation failed: ${activationFailure}`, previous);
        return;
      }

      ctx.phase = 'checking';
      const confirmMs = order.confirmTimeoutMs ?? DEADLINES.confirmTimeout.default;
      journal.say(`checking that the server is reached again within ${formatDuration(confirmMs)}`);
      const unreachable = await serverReachable(order.server, ctx.token, confirmMs);
      if (unreachable) {
        await rollBack(ctx, `check failed: ${unreachable}`, previous);
        return;
      }
      const unhealthy = await runChecks(checks.checks, journal);
      if (unhealthy) {
        await rollBack(ctx, unhealthy, previous);
        return;
      }
      if (deployment.rollbackScript) {
        const check: Command = { argv: [deployment.rollbackScript] };
        const result = await step(ctx, check);
        if (result.code !== 0) {
          await rollBack(ctx, `rollbackScript failed: ${describeFailure(check, result)}`, previous);
          return;
        }
      }
      ctx.phase = 'done';
      journal.say(`activated ${storePath}`);
      journal.finish('Succeeded', null, storePath);
    } finally {
      release();
    }
  } catch (err) {
    if (err instanceof Unrecordable) {
      journal.finish('Failed', `stopped before activation: ${err.message}; the profile was not changed`, await readActivePath(order.profile));
      return;
    }
    if (err instanceof Cancelled || ctx.cancel.aborted) {
      journal.say('cancelled before activation; nothing was changed');
      journal.finish('Cancelled', 'cancelled before activation; the profile was not changed', await readActivePath(order.profile));
      return;
    }
    throw err;
  }
}
