/**
 * `drover agent NAME`: keep this machine's profile deployed.
 *
 * Before connecting it checks its state directory (fatal: exit 78 with what
 * is wrong and the fix) and what it needs to deploy (reported to the server;
 * see @drover/agent self-check). With `--bootstrap` it exits 0 once the
 * service-managed agent of the same name has connected in its place.
 */
import { pino } from 'pino';
import { DroverError, parseAgentName, parseDeadline, parseDuration, parseLabelAssignment, parseLabels, type DeadlineName } from '@drover/protocol/light';
import { reportError } from '../output.js';
import { agentTokenSource } from '../agent-token.js';

export interface AgentFlags {
  server?: string;
  profile: string;
  stateDir?: string;
  tokenFile?: string;
  logLevel?: string;
  authRetry?: string;
  bootstrap?: boolean;
  runnerScope?: string;
  activationTimeout?: string;
  confirmTimeout?: string;
  storeReserve?: string;
  label?: string[];
  identity?: string;
  declaredSecrets?: string;
}

/** A deadline flag in milliseconds; undefined when not given. */
function deadlineFlag(name: DeadlineName, flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDeadline(name, value);
  if (typeof ms === 'string') throw new DroverError('DROVER_ERR_CONFIG', `${flag} ${ms}`);
  return ms;
}

const sizeUnits: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `--store-reserve`: bytes, or a number with K/M/G/T (binary units, optional "i"/"B"). */
function sizeFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
  const scale = m ? sizeUnits[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || scale === undefined) throw new DroverError('DROVER_ERR_CONFIG', `--store-reserve ${JSON.stringify(value)} is not a size (e.g. 500M, 2G, or bytes)`);
  return Math.round(Number(m[1]) * scale);
}

export async function agentCommand(name: string, flags: AgentFlags): Promise<number | undefined> {
  const agentName = parseAgentName(name);
  const labels = parseLabels(Object.fromEntries((flags.label ?? []).map(parseLabelAssignment)));
  const server = flags.server ?? process.env['DROVER_SERVER'];
  if (!server) throw new DroverError('DROVER_ERR_CONFIG', 'no server: pass --server URL or set DROVER_SERVER');
  const token = agentTokenSource(flags.tokenFile);
  const { Agent, checkStateDir, defaultIdentityFile, defaultStateDir, EXIT_SETUP, loadIdentity, readDeclaredSecrets, RUNNER_SCOPE_MODES } =
    await import('@drover/agent');
  const scopeSetting = flags.runnerScope ?? process.env['DROVER_RUNNER_SCOPE'] ?? 'auto';
  const runnerScope = RUNNER_SCOPE_MODES.find((mode) => mode === scopeSetting);
  if (runnerScope === undefined) {
    throw new DroverError(
      'DROVER_ERR_CONFIG',
      `--runner-scope (or DROVER_RUNNER_SCOPE) ${JSON.stringify(scopeSetting)} must be one of: ${RUNNER_SCOPE_MODES.join(', ')}`,
    );
  }
  const stateDir = flags.stateDir ?? defaultStateDir(agentName);
  const unwritable = checkStateDir(stateDir, flags.stateDir !== undefined);
  if (unwritable !== null) {
    reportError(new DroverError('DROVER_ERR_AGENT_SETUP', unwritable));
    return EXIT_SETUP;
  }
  let identity;
  try {
    identity = loadIdentity(flags.identity ?? defaultIdentityFile(stateDir));
    if (flags.declaredSecrets !== undefined) readDeclaredSecrets(flags.declaredSecrets);
  } catch (err) {
    reportError(new DroverError('DROVER_ERR_AGENT_SETUP', err instanceof Error ? err.message : String(err)));
    return EXIT_SETUP;
  }
  const log = pino({ name: 'drover-agent', level: flags.logLevel ?? process.env['DROVER_LOG_LEVEL'] ?? 'info' });
  const authRetryMs = flags.authRetry === undefined ? undefined : parseDuration(flags.authRetry);
  if (authRetryMs === null || (authRetryMs !== undefined && authRetryMs < 1000)) {
    throw new DroverError('DROVER_ERR_CONFIG', `--auth-retry ${JSON.stringify(flags.authRetry)} must be a duration of at least 1s (e.g. 60s)`);
  }
  const agent = new Agent({
    name: agentName,
    server,
    token,
    profile: flags.profile,
    stateDir,
    log,
    authRetryMs,
    runnerScope,
    bootstrap: flags.bootstrap === true,
    onTakenOver: (reason) => {
      log.info({ reason }, 'bootstrap done: the agent of this name connected in its place (it reports any deployment still open); exiting');
      setTimeout(() => process.exit(0), 100).unref();
    },
    activationTimeoutMs: deadlineFlag('activationTimeout', '--activation-timeout', flags.activationTimeout),
    confirmTimeoutMs: deadlineFlag('confirmTimeout', '--confirm-timeout', flags.confirmTimeout),
    storeReserveBytes: sizeFlag(flags.storeReserve),
    labels,
    identity,
    declaredSecretsFile: flags.declaredSecrets,
  });
  agent.start();
  const stop = (signal: string) => {
    log.info({ signal }, 'agent stopping; running deployments continue in their own process');
    agent.stop();
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  return undefined;
}
