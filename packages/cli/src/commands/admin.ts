/** `drover token …` and `drover workspace …`: administration, local or remote. */
import { DroverError, isTokenKind, TOKEN_KINDS } from '@drover/protocol';
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

export async function tokenCreate(flags: AdminFlags & { kind: string; workspace: string; agent?: string; description?: string; cache?: string }): Promise<void> {
  if (!isTokenKind(flags.kind)) {
    throw new DroverError('DROVER_ERR_VALIDATION', `--kind must be one of ${TOKEN_KINDS.join(', ')} (got ${JSON.stringify(flags.kind)})`);
  }
  if (flags.agent && flags.kind !== 'agent') throw new DroverError('DROVER_ERR_VALIDATION', '--agent only applies to --kind agent');
  if (flags.cache && flags.kind !== 'push' && flags.kind !== 'pull') throw new DroverError('DROVER_ERR_VALIDATION', '--cache only applies to --kind push or pull');
  const kind = flags.kind;
  const { token, info: t } = await withTarget(flags, (target) =>
    target.createToken({ workspace: flags.workspace, kind, agent: flags.agent, description: flags.description, cache: flags.cache }),
  );
  out(token);
  info(`created ${t.kind} token ${t.id} in workspace ${t.workspace}${t.agent ? ` for agent ${t.agent}` : ''}; it is shown only once`);
}

export async function tokenList(flags: AdminFlags & { workspace: string; json?: boolean }): Promise<void> {
  const tokens = await withTarget(flags, (target) => target.listTokens(flags.workspace));
  if (flags.json) return printJson(tokens);
  out(
    table([
      ['ID', 'KIND', 'AGENT', 'CREATED', 'LAST USED', 'REVOKED', 'DESCRIPTION'],
      ...tokens.map((t) => [t.id, t.kind, t.agent ?? '-', t.createdAt, t.lastUsedAt ?? '-', t.revokedAt ?? '-', t.description]),
    ]),
  );
}

export async function tokenRevoke(id: string, flags: AdminFlags & { workspace?: string }): Promise<void> {
  await withTarget(flags, (target) => target.revokeToken(flags.workspace, id));
  info(`token ${id} revoked`);
}

export async function workspaceCache(name: string, flags: AdminFlags & { substituter?: string; publicKey?: string; clear?: boolean }): Promise<void> {
  if (!flags.clear && (!flags.substituter || !flags.publicKey)) {
    throw new DroverError('DROVER_ERR_VALIDATION', 'give both --substituter URL and --public-key NAME:KEY (or --clear)');
  }
  const ws = await withTarget(flags, (target) =>
    target.setCache(name, flags.clear ? { substituter: null, publicKey: null } : { substituter: flags.substituter!, publicKey: flags.publicKey! }),
  );
  info(ws.cache ? `workspace ${ws.name}: agents substitute from ${ws.cache.substituter} (${ws.cache.publicKey.split(':')[0]})` : `workspace ${ws.name}: no cache set`);
}

export async function workspaceCreate(name: string, flags: AdminFlags): Promise<void> {
  const ws = await withTarget(flags, (target) => target.createWorkspace(name));
  info(`workspace ${ws.name} created`);
}

export async function workspaceList(flags: AdminFlags & { json?: boolean }): Promise<void> {
  const list = await withTarget(flags, (target) => target.listWorkspaces());
  if (flags.json) return printJson(list);
  out(table([['NAME', 'CREATED', 'CACHE'], ...list.map((w) => [w.name, w.createdAt, w.cache?.substituter ?? '-'])]));
}
