/**
 * The command line of the agent-only `drover` (see agent-only.ts): the same
 * `agent` command as the full CLI, and a clear refusal of every other one.
 * A plain agent line is read without commander (agent-argv.ts), which is
 * loaded only for help, the version and lines that need its messages.
 */
import { info } from './output.js';
import { runPlainAgentLine } from './agent-argv.js';

const ANSWERED = new Set(['agent', 'help']);

export async function runAgentOnly(argv: readonly string[]): Promise<void> {
  const first = argv[2];
  if (first !== undefined && !first.startsWith('-') && !ANSWERED.has(first)) {
    info(`error: \`drover ${first}\` is not part of this package: this is the agent-only drover (drover-agent), it runs only \`drover agent NAME …\``);
    info('hint: install the full drover package (Nix: packages.<system>.drover; npm: this repository) for the server and the other commands');
    process.exitCode = 1;
    return;
  }
  if (await runPlainAgentLine(argv)) return;
  const [{ Command }, { DROVER_VERSION }, { registerAgentCommand }, { run }] = await Promise.all([
    import('commander'),
    import('@drover/protocol'),
    import('./commands/agent-register.js'),
    import('./commands/run-action.js'),
  ]);
  const program = new Command('drover')
    .description('Drover agent (the agent-only package: `drover agent NAME …`)')
    .version(DROVER_VERSION)
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)');
  registerAgentCommand(program, run);
  await program.parseAsync(argv);
}
