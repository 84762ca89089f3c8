/**
 * The rule that an activation deploys only what its agents can fetch: every
 * store path of a deploy.json (the agents' paths and the rollbackScripts)
 * must be in the cache the workspace's agents substitute from, checked
 * before anything is created. Each distinct path is checked once, however
 * many agents deploy it (an activation's agents share their workspace's
 * cache). A refusal names every missing path, where deploy.json uses it and
 * the command that fixes it.
 */
import { DroverError, pointer, type ActivateRequest, type ErrorDetail, type StorePath } from '@drover/protocol';
import type { ServerContext } from '../context.js';
import type { Access } from '../auth/access.js';
import { absentFromAgentCache, NOT_IN_CACHE } from '../cache/presence.js';

const LISTED = 10;

/** Where deploy.json uses each store path: its JSON pointers and a short label for messages, in order. */
function usesOf(body: ActivateRequest): Map<StorePath, { pointers: string[]; labels: string[] }> {
  const uses = new Map<StorePath, { pointers: string[]; labels: string[] }>();
  const add = (path: string, at: string, label: string) => {
    const use = uses.get(path as StorePath) ?? { pointers: [], labels: [] };
    use.pointers.push(at);
    use.labels.push(label);
    uses.set(path as StorePath, use);
  };
  for (const [name, path] of Object.entries(body.agents)) add(path, pointer('agents', name), name);
  for (const [system, path] of Object.entries(body.rollbackScript ?? {})) add(path, pointer('rollbackScript', system), `rollbackScript ${system}`);
  return uses;
}

function listed(items: readonly string[], max: number): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

/** Throws DROVER_ERR_NOT_IN_CACHE naming every path of `body` the agents' cache lacks; the body's paths are valid store paths. */
export async function requireInAgentCache(ctx: ServerContext, access: Access, body: ActivateRequest): Promise<void> {
  const paths = new Set<StorePath>();
  for (const path of Object.values(body.agents)) paths.add(path as StorePath);
  for (const path of Object.values(body.rollbackScript ?? {})) paths.add(path as StorePath);
  const presence = await absentFromAgentCache(ctx.db, access.workspaceId, [...paths]);
  if (!presence) return;
  if (presence.unchecked > 0) {
    ctx.log.warn(
      { workspace: access.workspaceName, unchecked: presence.unchecked },
      'activation cache check: too many distinct store paths, the rest were not checked',
    );
  }
  if (presence.absent.length === 0) return;
  // Where each path is used only matters for a refusal: not worked out per agent for an activation that goes ahead.
  const uses = usesOf(body);
  const fix = presence.builtin ? `drover push ${presence.cache}` : `nix copy --to ${presence.cache}`;
  const details: ErrorDetail[] = presence.absent.map(({ path, reason }) => {
    const use = uses.get(path) ?? { pointers: [''], labels: [] };
    return {
      path: use.pointers[0] ?? '',
      code: 'DROVER_ERR_NOT_IN_CACHE',
      message: `${path} (${listed(use.labels, 3)}): ${reason}; fix: ${fix} ${path}`,
    };
  });
  const absent = presence.absent.map((a) => a.path);
  const count = absent.length === 1 ? '1 store path is' : `${absent.length} store paths are`;
  const unknown = presence.absent.some((a) => a.reason !== NOT_IN_CACHE) ? ' (or could not be checked in)' : '';
  throw new DroverError(
    'DROVER_ERR_NOT_IN_CACHE',
    `nothing was deployed: ${count} not in${unknown} ${presence.builtin ? `built-in cache ${presence.cache}` : `cache ${presence.cache}`}, which the agents substitute from: ` +
      `${listed(absent, LISTED)}. Push ${absent.length === 1 ? 'it' : 'them'} first: ${fix} ${absent.slice(0, LISTED).join(' ')}${absent.length > LISTED ? ' …' : ''} ` +
      `(or skip this check with --no-cache-check)`,
    details,
  );
}
