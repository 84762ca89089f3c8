/**
 * `drover deploy [FLAKE]`: one command from a flake to running machines.
 * Evaluates the flake's `deploy` output (the shape nix/lib.nix's mkDeploySpec
 * takes), builds every closure in one `nix build`, pushes the paths the
 * cache lacks (as `drover push`), then activates and follows the logs
 * exactly as `drover activate` (same output, exit codes and --json).
 *
 * Tokens: DROVER_PUSH_TOKEN pushes; --token, else DROVER_ACTIVATE_TOKEN
 * (or DROVER_ADMIN_TOKEN), finds the cache and activates. Both are checked,
 * and the cache chosen, before Nix is run, so a misconfigured CI job fails
 * in seconds; a failed evaluation or build pushes and activates nothing.
 */
import { agentNameProblem, CacheListSchema, DroverError, parseCacheName, schemaDecoder, WorkspaceSchema } from '@drover/protocol';
import type { ApiClient } from '../client.js';
import { info } from '../output.js';
import { activateSpec, followTimings, type ActivateFlags } from './activate.js';
import { buildPlan, deployInstallable, evaluateDeploy, specPaths } from './flake-build.js';
import { pushClosures, pushOptions, pushToken } from './push.js';
import { readerClient, serverFrom } from './reader.js';

export interface DeployFlags extends Omit<ActivateFlags, 'agent' | 'on'> {
  on?: string[];
  cache?: string;
  jobs?: string;
}

/**
 * The built-in cache to push to: --cache, else the one the workspace's agents
 * substitute from (its oldest built-in cache, when no external cache is set).
 */
async function pushCache(api: ApiClient, asked: string | undefined): Promise<string> {
  const [workspace, { caches }] = await Promise.all([
    api.request('GET', '/workspace', undefined, schemaDecoder(WorkspaceSchema)),
    api.request('GET', '/caches', undefined, schemaDecoder(CacheListSchema)),
  ]);
  const agentsUse = workspace.cache ? null : (caches[0]?.name ?? null);
  if (asked !== undefined) {
    const name = parseCacheName(asked);
    if (!caches.some((c) => c.name === name)) {
      throw new DroverError(
        'DROVER_ERR_CACHE_NOT_FOUND',
        `--cache ${name}: workspace ${workspace.name} has no such cache (it has: ${caches.map((c) => c.name).join(', ') || 'none'})`,
      );
    }
    if (name !== agentsUse) {
      info(
        `note: agents of workspace ${workspace.name} substitute from ${workspace.cache ? workspace.cache.substituter : `cache ${agentsUse ?? '(none)'}`}, not ${name}`,
      );
    }
    return name;
  }
  if (workspace.cache) {
    throw new DroverError(
      'DROVER_ERR_NO_PUSH_CACHE',
      `agents of workspace ${workspace.name} substitute from the external cache ${workspace.cache.substituter}, which drover deploy cannot push to: push there yourself and run \`drover activate\`, or pass --cache NAME`,
    );
  }
  if (!agentsUse) throw new DroverError('DROVER_ERR_NO_PUSH_CACHE', `workspace ${workspace.name} has no built-in cache to push to`);
  return agentsUse;
}

export async function deployCommand(flake: string | undefined, flags: DeployFlags): Promise<number> {
  const timings = followTimings(flags);
  for (const name of flags.on ?? []) {
    const problem = agentNameProblem(name);
    if (problem) throw new DroverError('DROVER_ERR_INVALID_AGENT_NAME', `--on ${JSON.stringify(name)}: ${problem}`);
  }
  const target = { server: serverFrom(flags), token: pushToken(), cache: await pushCache(readerClient(flags), flags.cache) };
  const push = pushOptions(flags);
  const installable = deployInstallable(flake ?? '.');
  info(`evaluating ${installable}`);
  const plan = await evaluateDeploy(installable, flags.on);
  await buildPlan(plan);
  await pushClosures(
    target,
    specPaths(plan.spec).map(([, path]) => path),
    push,
  );
  // deploy's --on names agents of the flake (evaluated above); activate's --on selector is not offered here.
  return activateSpec(plan.spec, { ...flags, on: undefined }, timings);
}
