/**
 * The `drover` command. Each subcommand loads only what it needs, so
 * `drover agent` stays small in memory (no server, database or HTTP
 * framework code is loaded into the agent).
 */
import { Command, Option } from 'commander';
import { DEPLOYMENT_STATUSES, DROVER_VERSION, ROLES, TOKEN_KINDS } from '@drover/protocol';
import { reportError } from './output.js';
import { registerCacheCommands } from './commands/cache-register.js';

function run(fn: (...args: never[]) => Promise<unknown>) {
  return async (...args: unknown[]) => {
    try {
      const code = await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}

const localOptions = (cmd: Command) =>
  cmd
    .option('--data-dir <dir>', 'server data directory with the SQLite database (env DROVER_DATA_DIR)')
    .option('--database-url <url>', 'PostgreSQL URL instead of SQLite (env DROVER_DATABASE_URL)')
    .option('--database-schema <name>', 'PostgreSQL schema (env DROVER_DATABASE_SCHEMA)')
    .option('--config <file>', 'server config file, TOML (env DROVER_CONFIG)')
    .option('--server <url>', 'act through a running server instead (env DROVER_SERVER), with an admin token')
    .option('--token <token>', 'admin token for --server (env DROVER_ADMIN_TOKEN)');

/** Commands that only work on the server machine, against its database. */
const databaseOptions = (cmd: Command) =>
  cmd
    .option('--data-dir <dir>', 'server data directory with the SQLite database (env DROVER_DATA_DIR)')
    .option('--database-url <url>', 'PostgreSQL URL instead of SQLite (env DROVER_DATABASE_URL)')
    .option('--database-schema <name>', 'PostgreSQL schema (env DROVER_DATABASE_SCHEMA)')
    .option('--config <file>', 'server config file, TOML (env DROVER_CONFIG)');

const readerOptions = (cmd: Command) =>
  cmd.option('--server <url>', 'Drover server URL (env DROVER_SERVER)').option('--token <token>', 'token (env DROVER_ACTIVATE_TOKEN or DROVER_ADMIN_TOKEN)');

export function buildProgram(): Command {
  const program = new Command('drover')
    .description('Continuous deployment of Nix profiles to fleets of machines')
    .version(DROVER_VERSION)
    // Options after a subcommand belong to it (`deployments end ID --server …` is end's --server, not the list's).
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('server')
    .description('run the control plane: agent websockets, HTTP API (SQLite in --data-dir by default)')
    .option('--listen <host:port>', 'address to listen on (env DROVER_LISTEN; default 127.0.0.1:7700)')
    .option('--data-dir <dir>', 'data directory (env DROVER_DATA_DIR; default ./drover-data)')
    .option('--database-url <url>', 'PostgreSQL URL; several servers may share it (env DROVER_DATABASE_URL)')
    .option('--database-schema <name>', 'PostgreSQL schema (env DROVER_DATABASE_SCHEMA; default public)')
    .option('--public-url <url>', 'base URL in links shown to users (env DROVER_PUBLIC_URL)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace (env DROVER_LOG_LEVEL)')
    .option('--workers <n>', 'server processes sharing the port, for many agents on several cores (env DROVER_WORKERS; default 1)')
    .option('--max-log-bytes <n>', 'log text one deployment stores at most; later lines are dropped (env DROVER_MAX_LOG_BYTES; default 67108864, 0: no limit)')
    .option('--max-stream-seconds <n>', 'event streams end after this long and clients reconnect (env DROVER_MAX_STREAM_SECONDS; default 3600, 0: no bound)')
    .option('--sign-in-concurrency <n>', 'password hashes at once (env DROVER_SIGN_IN_CONCURRENCY; default half of UV_THREADPOOL_SIZE, at least 1)')
    .option('--sign-in-queue <n>', 'sign-ins waiting for a hash before 503 (env DROVER_SIGN_IN_QUEUE; default 32)')
    .option('--sign-in-per-address <n>', 'sign-ins of one client address at once before 429 (env DROVER_SIGN_IN_PER_ADDRESS; default 4)')
    .option('--config <file>', 'TOML config file (env DROVER_CONFIG); flags override env, env overrides the file')
    .action(run(async (flags) => (await import('./commands/server.js')).serverCommand(flags)));

  program
    .command('agent')
    .description("keep this machine's profile deployed: connect out to the server and run deployments")
    .argument('<name>', 'agent name: 1-64 letters, digits, "-", "_", "."')
    .option('--server <url>', 'Drover server URL (env DROVER_SERVER)')
    .option('--profile <profile>', '"system", a profile name under /nix/var/nix/profiles, or an absolute path', 'system')
    .option('--state-dir <dir>', 'where deployments are journaled (default /var/lib/drover-agent/NAME as root)')
    .option('--token-file <file>', 'read the agent token from a file instead of DROVER_AGENT_TOKEN (re-read before each connection attempt)')
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
    .option('--log-level <level>', 'log level (env DROVER_LOG_LEVEL)')
    .action(run(async (name, flags) => (await import('./commands/agent.js')).agentCommand(name, flags)));

  readerOptions(
    program
      .command('activate')
      .description('deploy the store paths in a deploy.json (Cachix Deploy format) and follow the logs')
      .argument('<deploy.json>', 'deployment spec; "-" reads stdin'),
  )
    .option('--agent <name>', 'deploy only this agent from the spec (repeatable)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--async', 'return after the deployments are created')
    .option('--timeout <duration>', 'stop waiting after this long (90s, 5m); exit 2, deployments stay pending')
    .option('--activation-timeout <duration>', "kill and roll back an activation that runs longer (sets deploy.json's activationTimeout; default: the agent's)")
    .option(
      '--confirm-timeout <duration>',
      "roll back unless the machine reaches the server within this after activation (sets confirmTimeout; default: the agent's)",
    )
    .option('--json', 'print the result as JSON (logs go to stderr)')
    .action(run(async (file, flags) => (await import('./commands/activate.js')).activateCommand(file, flags)));

  readerOptions(program.command('agents').description('list the agents of the workspace'))
    .option('--json', 'JSON output')
    .action(run(async (flags) => (await import('./commands/lists.js')).agentsCommand(flags)));

  const deployments = readerOptions(program.command('deployments').description('list deployments, newest first; `deployments end ID` ends a stuck one'))
    .option('--agent <name>', 'only this agent')
    .addOption(new Option('--status <status>', 'only deployments in this state').choices(DEPLOYMENT_STATUSES))
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--json', 'JSON output')
    .action(run(async (flags) => (await import('./commands/lists.js')).deploymentsCommand(flags)));
  readerOptions(
    deployments
      .command('end')
      .description(
        "end an InProgress deployment whose agent never reported: it becomes Failed with who and why (the agent's own report, if it comes, replaces that)",
      )
      .argument('<id>', 'deployment id (see `drover deployments`)'),
  )
    .requiredOption('--reason <text>', 'why it is ended (recorded with who ended it)')
    .option('--json', 'print the deployment as JSON')
    .action(run(async (id, flags) => (await import('./commands/lists.js')).deploymentEndCommand(id, flags)));

  const token = program.command('token').description('create, list and revoke tokens');
  localOptions(token.command('create').description('create a token and print it (only this once) on stdout'))
    .addOption(new Option('--kind <kind>', 'what the token may do').choices(TOKEN_KINDS).makeOptionMandatory())
    .option('--workspace <name>', 'workspace', 'default')
    .option('--agent <name>', 'agent tokens: the one agent name it may connect as (required unless --unbound)')
    .option('--unbound', 'agent tokens for fleet enrolment: no name yet, the first connection claims one and binds the token to it')
    .option('--description <text>', 'what the token is for')
    .option('--cache <name>', 'push/pull tokens: only this binary cache')
    .action(run(async (flags) => (await import('./commands/admin.js')).tokenCreate(flags)));
  localOptions(token.command('list').description('list tokens (never their secrets)'))
    .option('--workspace <name>', 'workspace', 'default')
    .option('--json', 'JSON output')
    .action(run(async (flags) => (await import('./commands/admin.js')).tokenList(flags)));
  localOptions(token.command('revoke').description('revoke a token; it stops working at once').argument('<id>', 'token id (see `drover token list`)'))
    .option('--workspace <name>', 'only in this workspace')
    .action(run(async (id, flags) => (await import('./commands/admin.js')).tokenRevoke(id, flags)));

  const workspace = program.command('workspace').description('workspaces and their binary cache');
  localOptions(workspace.command('cache').description('set the binary cache agents of a workspace substitute from').argument('<name>', 'workspace'))
    .option('--substituter <url>', 'binary cache URL, e.g. https://cache.example.com')
    .option('--public-key <key>', 'its signing key, NAME:BASE64 as in trusted-public-keys')
    .option('--clear', 'remove the cache setting')
    .action(run(async (name, flags) => (await import('./commands/admin.js')).workspaceCache(name, flags)));
  localOptions(workspace.command('create').description('create a workspace').argument('<name>', 'lowercase letters, digits, "-"')).action(
    run(async (name, flags) => (await import('./commands/admin.js')).workspaceCreate(name, flags)),
  );
  localOptions(workspace.command('list').description('list workspaces'))
    .option('--json', 'JSON output')
    .action(run(async (flags) => (await import('./commands/admin.js')).workspaceList(flags)));

  const user = program.command('user').description('web UI accounts and their roles (run on the server machine)');
  const roleHelp = `${ROLES.join(', ')}: admin does everything, deployer activates, cancels and re-runs, viewer reads`;
  databaseOptions(user.command('create').description('create a user; prints a one-time password unless --password-stdin').argument('<name>', 'user name'))
    .addOption(new Option('--role <role>', roleHelp).choices(ROLES).makeOptionMandatory())
    .option('--workspace <name>', 'the role holds in this workspace only (default: every workspace)')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action(run(async (name, flags) => (await import('./commands/users.js')).userCreate(name, flags)));
  databaseOptions(
    user.command('grant').description("set a user's role in a workspace (or in all)").argument('<name>', 'user name').argument('<role>', roleHelp),
  )
    .option('--workspace <name>', 'only in this workspace (default: every workspace)')
    .action(run(async (name, role, flags) => (await import('./commands/users.js')).userGrant(name, role, flags)));
  databaseOptions(user.command('ungrant').description("remove a user's role in a workspace (or its global role)").argument('<name>', 'user name'))
    .option('--workspace <name>', 'the workspace (default: the global role)')
    .action(run(async (name, flags) => (await import('./commands/users.js')).userUngrant(name, flags)));
  databaseOptions(
    user.command('password').description('set a new password (printed once unless --password-stdin); ends its sessions').argument('<name>', 'user name'),
  )
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action(run(async (name, flags) => (await import('./commands/users.js')).userPassword(name, flags)));
  databaseOptions(user.command('delete').description('delete a user and end its sessions').argument('<name>', 'user name')).action(
    run(async (name, flags) => (await import('./commands/users.js')).userDelete(name, flags)),
  );
  databaseOptions(user.command('list').description('list users and their roles'))
    .option('--json', 'JSON output')
    .action(run(async (flags) => (await import('./commands/users.js')).userList(flags)));
  registerCacheCommands(program, readerOptions, run);

  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.exitCode = reportError(err);
  });
