/**
 * `drover agent NAME [options]` read without commander, for the long-lived
 * agent process: the agent idles for months, and commander (its code and the
 * whole program built from it) would stay in its memory after start-up
 * (bench/README.md, agent memory). Both the full CLI (bin/drover) and the
 * agent-only single file (agent-only-program.ts) try this first.
 *
 * It reads only the plain lines a service starts the agent with: one name and
 * the options of agent-register.ts, as `--opt value` or `--opt=value`. For
 * anything else (help, version, an unknown or incomplete option, a value that
 * starts with `-`, more or fewer than one name) it returns null and the caller
 * hands the line to commander, so help and error messages stay commander's.
 * test/agent-argv.test.ts checks that every option of agent-register.ts is
 * known here, with the same defaults.
 */
import type { AgentFlags } from './commands/agent.js';

type Kind = 'value' | 'repeat' | 'flag';

/** The options of `drover agent` (agent-register.ts): flag → [AgentFlags key, kind]. */
export const AGENT_OPTIONS: Readonly<Record<string, readonly [keyof AgentFlags, Kind]>> = {
  '--server': ['server', 'value'],
  '--profile': ['profile', 'value'],
  '--state-dir': ['stateDir', 'value'],
  '--token-file': ['tokenFile', 'value'],
  '--auth-retry': ['authRetry', 'value'],
  '--activation-timeout': ['activationTimeout', 'value'],
  '--confirm-timeout': ['confirmTimeout', 'value'],
  '--store-reserve': ['storeReserve', 'value'],
  '--runner-scope': ['runnerScope', 'value'],
  '--label': ['label', 'repeat'],
  '--identity': ['identity', 'value'],
  '--declared-secrets': ['declaredSecrets', 'value'],
  '--log-level': ['logLevel', 'value'],
  '--bootstrap': ['bootstrap', 'flag'],
};

/** The defaults agent-register.ts gives commander. */
export const AGENT_DEFAULTS = { profile: 'system', authRetry: '60s' } as const;

/** The name and flags of `args` (what follows `agent`), or null when commander must read the line. */
export function parseAgentArgv(args: readonly string[]): { name: string; flags: AgentFlags } | null {
  const flags: Record<string, unknown> = { ...AGENT_DEFAULTS };
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('-')) {
      names.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const option = AGENT_OPTIONS[eq === -1 ? arg : arg.slice(0, eq)];
    if (option === undefined) return null;
    const [key, kind] = option;
    if (kind === 'flag') {
      if (eq !== -1) return null;
      flags[key] = true;
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = args[i + 1];
      if (value === undefined || value.startsWith('-')) return null;
      i++;
    }
    flags[key] = kind === 'repeat' ? [...((flags[key] as string[] | undefined) ?? []), value] : value;
  }
  const [name] = names;
  if (name === undefined || names.length !== 1) return null;
  return { name, flags: flags as unknown as AgentFlags };
}

/** Runs `drover agent …` when `argv` is a plain agent line (see above); false when commander must read it. */
export async function runPlainAgentLine(argv: readonly string[]): Promise<boolean> {
  if (argv[2] !== 'agent') return false;
  const parsed = parseAgentArgv(argv.slice(3));
  if (parsed === null) return false;
  const { run } = await import('./commands/run-action.js');
  await run(async () => (await import('./commands/agent.js')).agentCommand(parsed.name, parsed.flags))();
  return true;
}
