/**
 * Registers `drover secret set|list|rm` on the program; the command module
 * (and age) is imported lazily when one of them runs.
 */
import type { Command } from 'commander';
import type { Runner } from './run-action.js';

const repeatable = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export function registerSecretCommands(program: Command, readerOptions: (cmd: Command) => Command, run: Runner): void {
  const load = () => import('./secret.js');
  const secret = program.command('secret').description("age-encrypted secrets, written to the agents' machines with their deployments");
  readerOptions(
    secret
      .command('set')
      .description(
        "encrypt a secret here to the chosen agents' age recipients and upload the ciphertext (the server never sees the plaintext); affected agents get a secrets-only deployment",
      )
      .argument('<name>', 'secret name (1-64 letters, digits, ".", "_", "-"); the file name by default'),
  )
    .option('--agent <name>', 'an agent that receives it (repeatable)', repeatable)
    .option('--on <selector>', 'the agents whose labels match, e.g. role=web,region!=eu (resolved now: later agents do not get it)')
    .option('--file <file>', 'read the plaintext from this file (default: stdin)')
    .option('--encrypted <file>', 'upload this file, already encrypted with `age -r RECIPIENT …` to every target (binary or armored)')
    .option('--path <path>', 'where the agents write it (default /run/drover/secrets/NAME)')
    .option('--owner <user:group>', "owner and group of the file (names or ids; default: the agent's user)")
    .option('--mode <octal>', 'file mode (default 0400)')
    .option('--no-deploy', 'store only: agents get it with their next deployment')
    .option('--json', 'print the answer as JSON')
    .action(run(async (name, flags) => (await load()).secretSet(name, flags)));
  readerOptions(secret.command('list').description('the secrets of the workspace: targets, path, mode, version (never their contents)'))
    .option('--json', 'JSON output')
    .action(run(async (flags) => (await load()).secretList(flags)));
  readerOptions(
    secret.command('rm').description('remove a secret; its file is deleted from its agents by a secrets-only deployment').argument('<name>', 'secret name'),
  )
    .option('--no-deploy', "its file goes with the agents' next deployment instead")
    .option('--json', 'print the answer as JSON')
    .action(run(async (name, flags) => (await load()).secretRemove(name, flags)));
}
