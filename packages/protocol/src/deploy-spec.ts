/**
 * deploy.json, in Cachix Deploy's format so existing files work unchanged:
 *
 *     {"agents": {"NAME": "/nix/store/…"}, "rollbackScript": {"SYSTEM": "/nix/store/…"}}
 *
 * plus two optional Drover keys, durations such as "5m": `activationTimeout`
 * (an activation that runs longer is killed and rolled back) and
 * `confirmTimeout` (how long the machine has to reach the server again
 * after activation before it rolls back by itself). Unset, each agent's own
 * setting applies. And `rollout`: a staged rollout in waves (rollout.ts).
 *
 * Validation collects every problem instead of stopping at the first, so one
 * round trip tells the user all that is wrong; the server checks the same
 * rules again (and that each agent exists) before creating anything.
 */
import type { ErrorDetail } from './errors.js';
import { DroverError } from './errors.js';
import { agentNameProblem, isSystem, storePathProblem, type AgentName, type StorePath } from './names.js';
import { parseDuration } from './duration.js';
import { rolloutProblems, type RolloutSpec } from './rollout.js';

export interface DeploySpec {
  readonly agents: Readonly<Record<AgentName, StorePath>>;
  readonly rollbackScript?: Readonly<Record<string, StorePath>>;
  readonly activationTimeout?: string;
  readonly confirmTimeout?: string;
  readonly rollout?: RolloutSpec;
}

/** The deadlines a deployment may set, with their bounds in milliseconds. */
export const DEADLINES = {
  activationTimeout: { min: 1000, max: 86_400_000, default: 600_000, flag: '--activation-timeout' },
  confirmTimeout: { min: 1000, max: 3_600_000, default: 60_000, flag: '--confirm-timeout' },
} as const;
export type DeadlineName = keyof typeof DEADLINES;

/** A deadline's milliseconds from its duration text, or a message saying what is wrong with it. */
export function parseDeadline(name: DeadlineName, text: string): number | string {
  const { min, max } = DEADLINES[name];
  const ms = parseDuration(text);
  if (ms === null) return `${JSON.stringify(text)} is not a duration (e.g. 90s, 5m)`;
  if (ms < min || ms > max) return `${JSON.stringify(text)} is out of range (${min / 1000}s to ${max / 3_600_000}h)`;
  return ms;
}

const SPEC_KEYS = ['agents', 'rollbackScript', ...Object.keys(DEADLINES), 'rollout'];

const MAX_AGENTS = 100_000;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON pointer (RFC 6901) to a place in the spec, as used in error details. */
export function pointer(...parts: string[]): string {
  return '/' + parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

/** Every problem with `value` as a deploy spec; empty when it is valid. */
export function deploySpecProblems(value: unknown): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const add = (path: string, message: string, code: ErrorDetail['code'] = 'DROVER_ERR_INVALID_DEPLOY_SPEC') => problems.push({ path, code, message });
  if (!isPlainObject(value)) {
    add('', 'deploy spec must be a JSON object with an "agents" object');
    return problems;
  }
  for (const key of Object.keys(value)) {
    if (!SPEC_KEYS.includes(key)) add(pointer(key), `unknown key ${JSON.stringify(key)} (allowed: ${SPEC_KEYS.map((k) => `"${k}"`).join(', ')})`);
  }
  for (const name of Object.keys(DEADLINES) as DeadlineName[]) {
    const text = value[name];
    if (text === undefined || text === null) continue;
    const ms = typeof text === 'string' ? parseDeadline(name, text) : 'must be a duration string such as "5m"';
    if (typeof ms === 'string') add(pointer(name), `"${name}" ${ms}`);
  }
  const agents = value['agents'];
  if (!isPlainObject(agents)) {
    add('/agents', '"agents" must be an object mapping agent names to store paths');
  } else {
    const names = Object.keys(agents);
    if (names.length === 0) add('/agents', '"agents" is empty: name at least one agent');
    if (names.length > MAX_AGENTS) add('/agents', `"agents" has ${names.length} entries; at most ${MAX_AGENTS} per activation`);
    for (const name of names) {
      const nameProblem = agentNameProblem(name);
      if (nameProblem) add(pointer('agents', name), nameProblem, 'DROVER_ERR_INVALID_AGENT_NAME');
      const pathProblem = storePathProblem(agents[name]);
      if (pathProblem) add(pointer('agents', name), `agent ${JSON.stringify(name)}: ${pathProblem}`, 'DROVER_ERR_INVALID_STORE_PATH');
    }
  }
  if (value['rollout'] !== undefined && value['rollout'] !== null) problems.push(...rolloutProblems(value['rollout']));
  const rollback = value['rollbackScript'];
  if (rollback !== undefined && rollback !== null) {
    if (!isPlainObject(rollback)) {
      add('/rollbackScript', '"rollbackScript" must be an object mapping systems (e.g. "x86_64-linux") to store paths');
    } else {
      for (const [system, path] of Object.entries(rollback)) {
        if (!isSystem(system)) add(pointer('rollbackScript', system), `${JSON.stringify(system)} is not a system such as "x86_64-linux"`);
        const pathProblem = storePathProblem(path);
        if (pathProblem) add(pointer('rollbackScript', system), `rollbackScript for ${system}: ${pathProblem}`, 'DROVER_ERR_INVALID_STORE_PATH');
      }
    }
  }
  return problems;
}

/** Validates a parsed deploy spec; throws DROVER_ERR_INVALID_DEPLOY_SPEC listing every problem. */
export function parseDeploySpec(value: unknown): DeploySpec {
  const problems = deploySpecProblems(value);
  if (problems.length > 0) {
    throw new DroverError('DROVER_ERR_INVALID_DEPLOY_SPEC', `deploy spec is invalid: ${problems.map((p) => p.message).join('; ')}`, problems);
  }
  const v = value as {
    agents: Record<string, string>;
    rollbackScript?: Record<string, string> | null;
    activationTimeout?: string;
    confirmTimeout?: string;
    rollout?: RolloutSpec | null;
  };
  return {
    agents: v.agents as Record<AgentName, StorePath>,
    ...(v.rollbackScript ? { rollbackScript: v.rollbackScript as Record<string, StorePath> } : {}),
    ...(typeof v.activationTimeout === 'string' ? { activationTimeout: v.activationTimeout } : {}),
    ...(typeof v.confirmTimeout === 'string' ? { confirmTimeout: v.confirmTimeout } : {}),
    ...(v.rollout ? { rollout: v.rollout } : {}),
  };
}

/** Parses deploy.json text; a JSON syntax error becomes a spec error naming the position. */
export function parseDeploySpecText(text: string, source = 'deploy spec'): DeploySpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const message = `${source} is not valid JSON: ${(err as Error).message}`;
    throw new DroverError('DROVER_ERR_INVALID_DEPLOY_SPEC', message, [{ path: '', code: 'DROVER_ERR_INVALID_DEPLOY_SPEC', message }]);
  }
  return parseDeploySpec(value);
}
