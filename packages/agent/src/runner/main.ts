/**
 * Entry point of the detached deployment runner:
 * `node runner/main.js STATE_DIR/deployments/<id>`.
 *
 * The agent starts it in its own session (setsid) so that the agent can be
 * killed or restarted — NixOS restarts the agent's unit during a switch —
 * while the deployment goes on; the outcome lands in the events file either
 * way. SIGTERM means "cancel": honoured before activation (and during a
 * dry run's dry activation, which switches nothing), ignored after.
 *
 * An outcome that cannot be written (a full state directory) is retried for
 * OUTCOME_RETRY_MS; if it still cannot, the runner exits with
 * EXIT_UNRECORDED and the agent reports the deployment Failed itself.
 *
 * `runner/main.js --secrets-at-start STATE_DIR IDENTITY` is the agent's
 * start-up secrets step instead (../secrets/at-start.ts).
 */
import { writeFileSync } from 'node:fs';
import { readOrder, files } from '../state.js';
import { tryWrite } from '../write-failure.js';
import { formatStamp, stampOf } from '../process-alive.js';
import { Journal } from './journal.js';
import { runDeployment, type RunContext } from './run-deployment.js';
import { SECRETS_AT_START, secretsAtStart } from '../secrets/at-start.js';

/** How long an outcome that cannot be written is retried (space may be freed meanwhile). */
const OUTCOME_RETRY_MS = 120_000;
/** Exit code: the outcome could not be written. */
const EXIT_UNRECORDED = 3;

async function main(): Promise<number> {
  if (process.argv[2] === SECRETS_AT_START) return secretsAtStart(process.argv[3] ?? '', process.argv[4] ?? '');
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: runner DEPLOYMENT_DIR\n');
    return 2;
  }
  // Without its PID file the agent notices this process's exit instead (it is our parent).
  const pidFailure = tryWrite(() => writeFileSync(files.pid(dir), formatStamp(stampOf())));
  const order = readOrder(dir);
  const journal = new Journal(dir, order.deployment.id);
  if (journal.finished) return 0;
  if (pidFailure !== null) journal.writeFailure = pidFailure;
  const cancel = new AbortController();
  const token = process.env['DROVER_AGENT_TOKEN'];
  // Activation scripts and Nix inherit this environment: they never see the token.
  delete process.env['DROVER_AGENT_TOKEN'];
  const ctx: RunContext = { dir, order, journal, token, cancel: cancel.signal, phase: 'waiting' };
  process.on('SIGHUP', () => {});
  process.on('SIGTERM', () => {
    if (ctx.phase === 'waiting' || ctx.phase === 'fetching' || ctx.phase === 'dry-run') {
      journal.say('cancel requested');
      cancel.abort();
    } else {
      journal.say(`cancel requested during ${ctx.phase}; finishing this deployment first`);
    }
  });
  try {
    await runDeployment(ctx);
  } catch (err) {
    journal.say(`internal error: ${(err as Error).stack ?? String(err)}`);
    journal.finish('Failed', `the deployment process failed: ${(err as Error).message}`, null);
  }
  return (await journal.flush(OUTCOME_RETRY_MS)) ? 0 : EXIT_UNRECORDED;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`drover runner: ${String(err)}\n`);
    process.exit(1);
  },
);
