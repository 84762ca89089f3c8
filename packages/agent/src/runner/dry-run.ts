/**
 * A dry run's last step (`activate --dry`), after the closure was fetched
 * like any deployment's: the profile's dry activation instead of the
 * switch. The profile is never set, nothing is activated, no check runs and
 * nothing is rolled back. NixOS: `switch-to-configuration dry-activate`,
 * whose output is the log and is read into the units a switch would stop,
 * reload, restart and start (reported as `deployment.would-restart`);
 * home-manager: `activate` with DRY_RUN=1 (its log only); nix-darwin and
 * plain profiles have no dry activation, only the closure diff says what
 * would change. Succeeded means the dry run completed.
 */
import { describeFailure, dryActivationCommand, formatCommand, parseDryActivation, type Command, type CommandResult, type ProfileType } from '@drover/nix';
import { DEADLINES, describeWouldRestart, formatDuration, type StorePath } from '@drover/protocol';
import type { RunnerOrder } from '../state.js';
import type { Journal } from './journal.js';

/** Runs one command echoed into the journal (run-deployment.ts's step), `onLine` seeing each line too. */
export type Step = (command: Command, timeoutMs: number, onLine: (text: string) => void) => Promise<CommandResult>;

const NOTHING_SWITCHED = 'nothing was switched';

export async function dryRun(
  journal: Journal,
  order: RunnerOrder,
  run: { type: ProfileType; storePath: StorePath; active: StorePath | null },
  step: Step,
): Promise<void> {
  const command = dryActivationCommand(run.type, run.storePath);
  if (!command) {
    const why = `${run.type === 'plain' ? 'a plain profile has' : 'nix-darwin has'} no dry activation; only the closure diff tells what would change`;
    journal.say(`dry run: ${why}; the profile ${order.profile} was not set`);
    journal.wouldRestart(null);
    journal.finish('Succeeded', `dry run, ${NOTHING_SWITCHED}: ${why}`, run.active);
    return;
  }
  const env = Object.entries(command.env ?? {}).map(([name, value]) => `${name}=${value}`);
  journal.say(
    `dry run: asking the ${run.type} configuration what a switch would do${env.length > 0 ? ` (with ${env.join(' ')})` : ''}; the profile ${order.profile} is not set`,
  );
  const timeoutMs = order.activationTimeoutMs ?? DEADLINES.activationTimeout.default;
  const lines: string[] = [];
  const result = await step(command, timeoutMs, (text) => lines.push(text));
  if (result.timedOut) {
    const why = `${formatCommand(command.argv)} was still running after the activation timeout of ${formatDuration(timeoutMs)} and was killed with everything it started`;
    journal.say(why);
    journal.finish('Failed', `dry run failed: ${why}; ${NOTHING_SWITCHED}`, run.active);
    return;
  }
  if (result.code !== 0) {
    journal.finish('Failed', `dry run failed: ${describeFailure(command, result)}; ${NOTHING_SWITCHED}`, run.active);
    return;
  }
  if (run.type !== 'nixos') {
    journal.wouldRestart(null);
    journal.finish('Succeeded', `dry run, ${NOTHING_SWITCHED}: see the log for what ${run.type} would do`, run.active);
    return;
  }
  const units = parseDryActivation(lines);
  const said = describeWouldRestart(units);
  journal.say(`dry run: ${said}`);
  journal.wouldRestart(units);
  journal.finish('Succeeded', `dry run, ${NOTHING_SWITCHED}: ${said}`, run.active);
}
