/**
 * The agent's state directory: one folder per deployment it was given.
 *
 *     STATE_DIR/deployments/<id>/order.json   what to deploy (written by the agent)
 *     STATE_DIR/deployments/<id>/events.ndjson what happened: the journal (journal/entry.ts)
 *     STATE_DIR/deployments/<id>/runner.pid   "<pid> <start time>" of the runner
 *     STATE_DIR/deployments/<id>/reported     the server acknowledged the outcome
 *     STATE_DIR/age-identity                  the agent's age identity (secrets/identity.ts)
 *     STATE_DIR/secrets.json                  the last applied secret set, ciphertext only (secrets/applied.ts)
 *
 * The journal is the durable outbox: the runner appends to it whether or
 * not the agent is alive or connected, and the agent replays it to the
 * server until the outcome is acknowledged (outbox.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CacheConfig, DeploymentOrder } from '@drover/protocol/wire';

export interface RunnerOrder {
  readonly deployment: DeploymentOrder;
  readonly agent: string;
  /** Absolute profile path. */
  readonly profile: string;
  readonly cache: CacheConfig | null;
  /** Base URL of the server, for the post-activation reachability check. */
  readonly server: string;
  readonly system: string;
  /** Kill and roll back an activation that runs longer (the deploy's, else the agent's; older orders: the default). */
  readonly activationTimeoutMs?: number;
  /** After activation, the server must be reached again within this, else roll back. */
  readonly confirmTimeoutMs?: number;
  /** Bytes the store's filesystem must keep free after substitution (`--store-reserve`). */
  readonly storeReserveBytes?: number;
  /** The agent's age identity file, which decrypts `deployment.secrets`; null or absent: the agent has none. */
  readonly identityFile?: string | null;
  /** The configuration's declared secrets (`--declared-secrets`), checked against `deployment.secrets`. */
  readonly declaredSecretsFile?: string | null;
}

export function defaultStateDir(agentName: string): string {
  const base = process.getuid?.() === 0 ? '/var/lib/drover-agent' : join(process.env['XDG_STATE_HOME'] ?? join(homedir(), '.local/state'), 'drover-agent');
  return join(base, agentName);
}

function deploymentsDir(stateDir: string): string {
  return join(stateDir, 'deployments');
}

export function deploymentDir(stateDir: string, id: string): string {
  return join(deploymentsDir(stateDir), id);
}

export const files = {
  order: (dir: string) => join(dir, 'order.json'),
  events: (dir: string) => join(dir, 'events.ndjson'),
  pid: (dir: string) => join(dir, 'runner.pid'),
  reported: (dir: string) => join(dir, 'reported'),
};

/**
 * Writes the order atomically (temp file, then rename); the token is never
 * written. On failure (a full disk) the half-made folder is removed again,
 * so it neither holds space nor looks like a deployment, and the error is thrown.
 */
export function writeOrder(dir: string, order: RunnerOrder): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${files.order(dir)}.tmp`;
    writeFileSync(tmp, JSON.stringify(order), { mode: 0o600 });
    renameSync(tmp, files.order(dir));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export function readOrder(dir: string): RunnerOrder {
  return JSON.parse(readFileSync(files.order(dir), 'utf8')) as RunnerOrder;
}

export function isReported(dir: string): boolean {
  return existsSync(files.reported(dir));
}

export function markReported(dir: string): void {
  writeFileSync(files.reported(dir), new Date().toISOString());
}

/** Deployment folders, oldest first. */
export function listDeploymentDirs(stateDir: string): string[] {
  const root = deploymentsDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names
    .map((n) => join(root, n))
    .filter((d) => existsSync(files.order(d)))
    .map((d) => ({ d, t: statSync(files.order(d)).mtimeMs }))
    .sort((a, b) => a.t - b.t)
    .map((x) => x.d);
}

/** Keeps the newest `keep` reported deployments' folders, deletes older ones. */
export function pruneReported(stateDir: string, keep: number): void {
  const reported = listDeploymentDirs(stateDir).filter(isReported);
  for (const dir of reported.slice(0, Math.max(0, reported.length - keep))) rmSync(dir, { recursive: true, force: true });
}
