/**
 * The `drover` command. Each subcommand loads only what it needs, so
 * `drover agent` stays small in memory (no server, database or HTTP
 * framework code is loaded into the agent).
 */
import { Command, Option } from 'commander';
import { AGENT_STATUS_FILTERS, DEPLOYMENT_STATUSES, DROVER_VERSION, ROLES, TOKEN_KINDS, WEBHOOK_EVENTS, WEBHOOK_FORMATS } from '@drover/protocol';
import { reportError } from './output.js';
import { registerAgentCommand } from './commands/agent-register.js';
import { registerCacheCommands } from './commands/cache-register.js';
import { registerSecretCommands } from './commands/secret-register.js';
import { run } from './commands/run-action.js';

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

/** Commands that start deployments and follow them the way `activate` does. */
const followOptions = (cmd: Command, timeoutHelp: string) =>
  readerOptions(cmd)
    .option('--async', 'return after the deployments are created')
    .option('--timeout <duration>', timeoutHelp)
    .option('--json', 'print the result as JSON (logs go to stderr)')
    .option('--no-cache-check', "create the deployments without checking that the agents' cache holds every store path")
    .option('--progress-interval <duration>', 'while agents are offline, say so this often (default 60s)')
    .option('--dry', 'dry run: agents fetch and run the dry activation (NixOS: which units would restart), nothing is switched')
    .option('--activation-timeout <duration>', "kill and roll back an activation that runs longer (sets deploy.json's activationTimeout; default: the agent's)")
    .option(
      '--confirm-timeout <duration>',
      "roll back unless the machine reaches the server within this after activation (sets confirmTimeout; default: the agent's)",
    )
    .option('--waves <steps>', 'staged rollout in cumulative waves, e.g. 1,10%,100% (a count or a percentage of the agents, in name order)')
    .option('--max-parallel <n>', 'rollout: deployments of a wave running at once')
    .option('--max-failures <n|p%>', 'rollout: failed deployments tolerated before it stops and holds the rest (default 0)')
    .option('--pause <duration>', 'rollout: wait this long between waves (2m)')
    .option('--on-failure <stop|rollback>', 'rollout over its failure budget: stop (default) or also roll the succeeded agents back')
    .option('--force', 'deploy agents already on their path too (otherwise reported unchanged)');

const repeatable = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

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
    .option('--audit-retention-days <n>', 'audit log entries are deleted after this many days (env DROVER_AUDIT_RETENTION_DAYS; default 365, 0: kept for ever)')
    .option(
      '--webhook-key-file <file>',
      'key the webhook secrets are encrypted with; replicas must share it (env DROVER_WEBHOOK_KEY_FILE; default DATA_DIR/webhook.key)',
    )
    .option('--config <file>', 'TOML config file (env DROVER_CONFIG); flags override env, env overrides the file')
    .action(run(async (flags) => (await import('./commands/server.js')).serverCommand(flags)));

  registerAgentCommand(program, run);

  followOptions(
    program
      .command('activate')
      .description('deploy the store paths in a deploy.json (Cachix Deploy format) and follow the logs')
      .argument('<deploy.json>', 'deployment spec; "-" reads stdin'),
    'stop waiting after this long (90s, 5m); exit 2, deployments stay pending',
  )
    .option('--agent <name>', 'deploy only this agent from the spec (repeatable)', repeatable)
    .option('--on <selector>', 'deploy only the agents of the spec whose labels match, e.g. role=web,region!=eu')
    .action(run(async (file, flags) => (await import('./commands/activate.js')).activateCommand(file, flags)));

  const rollout = program.command('rollout').description('pause, resume or abort the staged rollout of an activation');
  for (const [action, help] of [
    ['pause', 'release no more deployments; those running finish'],
    ['resume', 'release deployments again'],
    ['abort', 'hold every deployment not yet released (status Held); those running finish'],
  ] as const) {
    readerOptions(rollout.command(action).description(help).argument('<activation>', 'activation id (printed by activate)'))
      .option('--json', 'print the activation view as JSON')
      .action(run(async (id, flags) => (await import('./commands/rollout.js')).rolloutCommand(action, id, flags)));
  }

  followOptions(
    program
      .command('deploy')
      .description(
        "build a flake's `deploy` output, push it to the workspace's cache and activate it, following the logs like activate (tokens: DROVER_PUSH_TOKEN, DROVER_ACTIVATE_TOKEN)",
      )
      .argument('[flake]', 'flake reference (default "."); FLAKE#ATTR evaluates ATTR instead of `deploy`'),
    'stop waiting for the deployments after this long (90s, 5m; build and push not counted); exit 2, deployments stay pending',
  )
    .option('--on <name>', 'deploy only this agent of the flake (repeatable)', repeatable)
    .option('--cache <name>', "built-in cache to push to (default: the one the workspace's agents use)")
    .option('--jobs <n>', 'uploads at once while pushing (1-64)', '8')
    .action(run(async (flake, flags) => (await import('./commands/deploy.js')).deployCommand(flake, flags)));

  const webhooks = program.command('webhooks').description("the workspace's webhooks and their delivery log (admin token)");
  readerOptions(webhooks.command('list').description('list webhooks (never their secrets)'))
    .option('--json', 'JSON output')
    .action(run(async (flags) => (await import('./commands/webhooks.js')).webhooksList(flags)));
  readerOptions(
    webhooks
      .command('create')
      .description('add a webhook; prints its signing secret (only this once)')
      .argument('<url>', 'http(s) URL the events are POSTed to'),
  )
    .addOption(new Option('--event <event>', 'an event to send (repeat for more)').choices(WEBHOOK_EVENTS).argParser(repeatable).makeOptionMandatory())
    .addOption(new Option('--format <format>', 'json (default) or slack ({"text": …}, for Slack-compatible incoming webhooks)').choices(WEBHOOK_FORMATS))
    .option('--offline-minutes <n>', 'agent.offline: after how many minutes offline (default 10)')
    .option('--description <text>', 'what the webhook is for')
    .option('--json', 'print the webhook and its secret as JSON')
    .action(run(async (url, flags) => (await import('./commands/webhooks.js')).webhooksCreate(url, flags)));
  readerOptions(webhooks.command('update').description('change a webhook; what is not given stays').argument('<id>', 'webhook id'))
    .option('--url <url>', 'a new URL')
    .addOption(new Option('--event <event>', 'the events it sends, replacing the old list (repeat for more)').choices(WEBHOOK_EVENTS).argParser(repeatable))
    .addOption(new Option('--format <format>', 'json or slack').choices(WEBHOOK_FORMATS))
    .option('--offline-minutes <n>', 'agent.offline: after how many minutes offline')
    .option('--description <text>', 'what the webhook is for')
    .option('--json', 'print the webhook as JSON')
    .action(run(async (id, flags) => (await import('./commands/webhooks.js')).webhooksUpdate(id, flags)));
  readerOptions(webhooks.command('rm').description('delete a webhook and its delivery log').argument('<id>', 'webhook id')).action(
    run(async (id, flags) => (await import('./commands/webhooks.js')).webhooksRemove(id, flags)),
  );
  for (const [action, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    readerOptions(webhooks.command(action).description(`${action} a webhook`).argument('<id>', 'webhook id'))
      .option('--json', 'print the webhook as JSON')
      .action(run(async (id, flags) => (await import('./commands/webhooks.js')).webhooksEnable(id, enabled, flags)));
  }
  readerOptions(webhooks.command('test').description('send a ping delivery now').argument('<id>', 'webhook id'))
    .option('--json', 'print the delivery as JSON')
    .action(run(async (id, flags) => (await import('./commands/webhooks.js')).webhooksTest(id, flags)));
  readerOptions(webhooks.command('deliveries').description('the delivery log of a webhook, newest first').argument('<id>', 'webhook id'))
    .option('--limit <n>', 'at most this many (default 50, up to 200)')
    .addOption(new Option('--status <status>', 'only these').choices(['pending', 'delivered', 'failed']))
    .option('--json', 'JSON output')
    .action(run(async (id, flags) => (await import('./commands/webhooks.js')).webhooksDeliveries(id, flags)));
  readerOptions(
    webhooks.command('retry').description('send a delivered or failed delivery again').argument('<id>', 'webhook id').argument('<delivery>', 'delivery id'),
  )
    .option('--json', 'print the delivery as JSON')
    .action(run(async (id, delivery, flags) => (await import('./commands/webhooks.js')).webhooksRetry(id, delivery, flags)));
  readerOptions(program.command('usage').description("the workspace's agents per UTC month: the most connected at once, and agent-hours"))
    .option('--months <n>', 'how many months back (default 12)')
    .option('--json', 'JSON output')
    .action(run(async (flags) => (await import('./commands/webhooks.js')).usageCommand(flags)));

  const agents = readerOptions(program.command('agents').description('list the agents of the workspace; `agents label`, `agents remove` (admin)'))
    .option('--selector <selector>', 'only agents whose labels match, e.g. role=web,region!=eu (k=v, k!=v, k, !k)')
    .addOption(new Option('--status <status>', 'only agents online/offline, by their latest deployment, or behind it').choices(AGENT_STATUS_FILTERS))
    .option('--json', 'JSON output')
    .action(run(async (flags) => (await import('./commands/agents.js')).agentsCommand(flags)));
  readerOptions(
    agents
      .command('label')
      .description("set (k=v) or remove (k-) an agent's labels as an admin; they override what the agent declares with --label")
      .argument('<name>', 'agent name')
      .argument('<changes...>', 'k=v to set, k- to remove'),
  )
    .option('--json', 'print the agent as JSON')
    .action(run(async (name, changes, flags) => (await import('./commands/agents.js')).agentsLabelCommand(name, changes, flags)));
  readerOptions(
    agents
      .command('remove')
      .description('decommission an agent: it leaves the lists, its bound tokens are revoked, its deployments stay readable')
      .argument('<name>', 'agent name'),
  ).action(run(async (name, flags) => (await import('./commands/agents.js')).agentsRemoveCommand(name, flags)));

  const deployments = readerOptions(program.command('deployments').description('list deployments, newest first; `deployments end ID` ends a stuck one'))
    .option('--agent <part>', 'only agents whose name contains this (case-insensitive)')
    .option('--path <part>', 'only store paths that contain this (a hash prefix, a name, a whole path)')
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

  readerOptions(
    program
      .command('logs')
      .description("print one deployment's log; --follow streams it until the deployment is final (exit 0 if it Succeeded, 1 otherwise)")
      .argument('<deployment>', 'deployment id (see `drover deployments`)'),
  )
    .option('-f, --follow', 'keep printing new lines until the deployment is final')
    .option('--json', 'one JSON object per line: {seq, time, stream, text}, text without escape codes')
    .action(run(async (id, flags) => (await import('./commands/logs.js')).logsCommand(id, flags)));

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

  localOptions(
    program
      .command('audit')
      .description(
        'the audit log, newest first: who changed what, when and from where (admins: an admin token with --server, or on the server machine every workspace)',
      ),
  )
    .option('--workspace <name>', "only this workspace (with --server: the admin token's)")
    .option('--action <action>', 'an action (token.create) or all of a kind (token)')
    .option('--actor <who>', 'a user name, token id or token description')
    .option('--target <target>', 'what was acted on: a token id, agent name, deployment id…')
    .option('--since <time>', 'entries from this time (ISO-8601) or this long ago (24h, 7d)')
    .option('--until <time>', 'entries before this time or this long ago')
    .option('--limit <n>', 'entries to show (default 50, at most 500)')
    .option('--offset <n>', 'skip this many of the newest entries')
    .option('--json', 'the page as JSON: {entries, total, retentionDays}')
    .action(run(async (flags) => (await import('./commands/audit.js')).auditCommand(flags)));

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
  registerSecretCommands(program, readerOptions, run);

  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.exitCode = reportError(err);
  });
