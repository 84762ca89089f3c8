/**
 * deploy.json, in Cachix Deploy's format so existing files work unchanged:
 *
 *     {"agents": {"NAME": "/nix/store/…"}, "rollbackScript": {"SYSTEM": "/nix/store/…"}}
 *
 * Validation collects every problem instead of stopping at the first, so one
 * round trip tells the user all that is wrong; the server checks the same
 * rules again (and that each agent exists) before creating anything.
 */
import type { ErrorDetail } from './errors.js';
import { DroverError } from './errors.js';
import { agentNameProblem, isSystem, storePathProblem, type AgentName, type StorePath } from './names.js';

export interface DeploySpec {
  readonly agents: Readonly<Record<AgentName, StorePath>>;
  readonly rollbackScript?: Readonly<Record<string, StorePath>>;
}

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
    if (key !== 'agents' && key !== 'rollbackScript') {
      add(pointer(key), `unknown key ${JSON.stringify(key)} (allowed: "agents", "rollbackScript")`);
    }
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
  const v = value as { agents: Record<string, string>; rollbackScript?: Record<string, string> | null };
  return {
    agents: v.agents as Record<AgentName, StorePath>,
    ...(v.rollbackScript ? { rollbackScript: v.rollbackScript as Record<string, StorePath> } : {}),
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
