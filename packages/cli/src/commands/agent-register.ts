/**
 * Registers `drover agent NAME …` on a program: the full CLI (main.ts) and
 * the agent-only single file (agent-only.ts) share it. The command module is
 * imported only when the command runs.
 */
import type { Command } from 'commander';
import type { Runner } from './run-action.js';

export function registerAgentCommand(program: Command, run: Runner): void {
  program
    .command('agent')
    .description("keep this machine's profile deployed: connect out to the server and run deployments")
    .argument('<name>', 'agent name: 1-64 letters, digits, "-", "_", "."')
    .option('--server <url>', 'Drover server URL (env DROVER_SERVER)')
    .option('--profile <profile>', '"system", a profile name under /nix/var/nix/profiles, or an absolute path', 'system')
    .option('--state-dir <dir>', 'where deployments are journaled (default /var/lib/drover-agent/NAME as root)')
    .option(
      '--token-file <file>',
      'read the agent token from a file (re-read before each connection attempt); else DROVER_AGENT_TOKEN, else the systemd credential agent-token',
    )
    .option('--auth-retry <duration>', 'wait this long before retrying after the server rejected the token', '60s')
    .option('--activation-timeout <duration>', "kill and roll back an activation that runs longer (default 10m; a deploy's activationTimeout overrides it)")
    .option(
      '--confirm-timeout <duration>',
      "roll back unless the server is reached again within this after activation (default 60s; a deploy's confirmTimeout overrides it)",
    )
    .option(
      '--store-reserve <size>',
      'keep this much free on the /nix/store filesystem: a closure that would eat into it is refused before fetching (e.g. 2G; default 0)',
    )
    .option(
      '--runner-scope <mode>',
      "auto: under systemd each deployment runs in a scope of its own (systemd-run), so restarting or stopping the agent's unit does not stop it; off: in the agent's cgroup (env DROVER_RUNNER_SCOPE; default auto)",
    )
    .option(
      '--label <key=value>',
      'a label this agent declares (repeatable: --label role=web --label region=eu); admins may override it on the server',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option('--identity <file>', "the agent's age identity, which its secrets are encrypted to; made (0600) when missing (default STATE_DIR/age-identity)")
    .option(
      '--declared-secrets <file>',
      'JSON of the secrets this machine expects ({"secrets": {NAME: {path, owner, group, mode}}}, written by the NixOS module): what was not set, or set otherwise, is logged',
    )
    .option('--log-level <level>', 'log level (env DROVER_LOG_LEVEL)')
    .option('--bootstrap', 'first deployment by hand on a fresh machine: exit 0 once the service-managed agent of this name connected in its place')
    .action(run(async (name, flags) => (await import('./agent.js')).agentCommand(name, flags)));
}
