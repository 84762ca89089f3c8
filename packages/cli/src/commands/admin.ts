/** `drover token …` and `drover workspace …`: administration, local or remote. */
import { DroverError, isTokenKind, TOKEN_KINDS, type TokenInfo } from '@drover/protocol';
import { openAdminTarget, type AdminFlags, type AdminTarget } from '../admin-target.js';
import { info, out, printJson, table } from '../output.js';

async function withTarget<T>(flags: AdminFlags, fn: (t: AdminTarget) => Promise<T>): Promise<T> {
  const target = await openAdminTarget(flags);
  try {
    return await fn(target);
  } finally {
    await target.close();
  }
}

export async function tokenCreate(
  flags: AdminFlags & { kind: string; workspace: string; agent?: string; unbound?: boolean; description?: string; cache?: string },
): Promise<void> {
  if (!isTokenKind(flags.kind)) {
    throw new DroverError('DROVER_ERR_VALIDATION', `--kind must be one of ${TOKEN_KINDS.join(', ')} (got ${JSON.stringify(flags.kind)})`);
  }
  if (flags.agent && flags.kind !== 'agent') throw new DroverError('DROVER_ERR_VALIDATION', '--agent only applies to --kind agent');
  if (flags.unbound && flags.kind !== 'agent') throw new DroverError('DROVER_ERR_VALIDATION', '--unbound only applies to --kind agent');
  if (flags.unbound && flags.agent) throw new DroverError('DROVER_ERR_VALIDATION', '--unbound and --agent exclude each other');
  if (flags.kind === 'agent' && !flags.agent && !flags.unbound) {
    throw new DroverError(
      'DROVER_ERR_AGENT_TOKEN_UNBOUND',
      'an agent token names its agent: add --agent NAME (or --unbound for fleet enrolment: its first connection claims a name)',
    );
  }
  if (flags.cache && flags.kind !== 'push' && flags.kind !== 'pull')
    throw new DroverError('DROVER_ERR_VALIDATION', '--cache only applies to --kind push or pull');
  const kind = flags.kind;
  const { token, info: t } = await withTarget(flags, (target) =>
    target.createToken({ workspace: flags.workspace, kind, agent: flags.agent, unbound: flags.unbound, description: flags.description, cache: flags.cache }),
  );
  out(token);
  const forWhom = t.agent ? ` for agent ${t.agent}` : t.agentBinding === 'claim' ? ', unbound: its first connection claims the agent name' : '';
  info(`created ${t.kind} token ${t.id} in workspace ${t.workspace}${forWhom}; it is shown only once`);
}

export async function tokenList(flags: AdminFlags & { workspace: string; json?: boolean }): Promise<void> {
  const tokens = await withTarget(flags, (target) => target.listTokens(flags.workspace));
  if (flags.json) {
    printJson(tokens);
    return;
  }
  out(
    table([
      ['ID', 'KIND', 'AGENT', 'CREATED', 'LAST USED', 'REVOKED', 'DESCRIPTION'],
      ...tokens.map((t) => [t.id, t.kind, agentColumn(t), t.createdAt, t.lastUsedAt ?? '-', t.revokedAt ?? '-', t.description]),
    ]),
  );
}

/** The AGENT column: the bound name, or which kind of unbound agent token this is. */
function agentColumn(t: TokenInfo): string {
  if (t.agent) return t.agent;
  if (t.agentBinding === 'claim') return '(unbound: first connection claims)';
  if (t.agentBinding === 'any') return '(unbound: any name)';
  return '-';
}

export async function tokenRevoke(id: string, flags: AdminFlags & { workspace?: string }): Promise<void> {
  await withTarget(flags, (target) => target.revokeToken(flags.workspace, id));
  info(`token ${id} revoked`);
}

/** The cache `drover workspace cache` sets: none with --clear, else both --substituter and --public-key. */
function cacheSetting(flags: { substituter?: string; publicKey?: string; clear?: boolean }): { substituter: string | null; publicKey: string | null } {
  if (flags.clear) return { substituter: null, publicKey: null };
  const { substituter, publicKey } = flags;
  if (!substituter || !publicKey) throw new DroverError('DROVER_ERR_VALIDATION', 'give both --substituter URL and --public-key NAME:KEY (or --clear)');
  return { substituter, publicKey };
}

export async function workspaceCache(name: string, flags: AdminFlags & { substituter?: string; publicKey?: string; clear?: boolean }): Promise<void> {
  const cache = cacheSetting(flags);
  const ws = await withTarget(flags, (target) => target.setCache(name, cache));
  info(
    ws.cache
      ? `workspace ${ws.name}: agents substitute from ${ws.cache.substituter} (${ws.cache.publicKey.split(':')[0]})`
      : `workspace ${ws.name}: no cache set`,
  );
}

export async function workspaceCreate(name: string, flags: AdminFlags): Promise<void> {
  const ws = await withTarget(flags, (target) => target.createWorkspace(name));
  info(`workspace ${ws.name} created`);
}

export async function workspaceList(flags: AdminFlags & { json?: boolean }): Promise<void> {
  const list = await withTarget(flags, (target) => target.listWorkspaces());
  if (flags.json) {
    printJson(list);
    return;
  }
  out(table([['NAME', 'CREATED', 'CACHE'], ...list.map((w) => [w.name, w.createdAt, w.cache?.substituter ?? '-'])]));
}
