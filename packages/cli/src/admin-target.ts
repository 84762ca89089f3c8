/**
 * Where admin commands (tokens, workspaces) act: directly on the database
 * (`--data-dir` / `--database-url`, on the server's machine) or through the
 * API of a running server (`--server` with an admin token). Locally it
 * calls the server package's own functions; it never queries its tables,
 * and records each change in the audit log as done by the local account
 * (local-audit.ts); through the API the server records it.
 */
import type { AuditList, TokenInfo, TokenKind, Workspace } from '@drover/protocol';
import { AuditListSchema, DEFAULT_AUDIT_RETENTION_DAYS, schemaDecoder } from '@drover/protocol';
import { DroverError, parseAgentName } from '@drover/protocol';
import {
  createToken,
  createWorkspace,
  findCache,
  findWorkspace,
  listAuditEntries,
  listTokens,
  listWorkspaces,
  migrateToLatest,
  ensureDefaultWorkspace,
  openDatabase,
  revokeToken,
  setWorkspaceCache,
  toTokenApi,
  toWorkspaceApi,
  type OpenDatabase,
} from '@drover/server';
import { ApiClient } from './client.js';
import { resolveServerSettings } from './config.js';
import { recordLocal } from './local-audit.js';

export interface AdminTarget {
  createToken(input: TokenInput): Promise<{ token: string; info: TokenInfo }>;
  listTokens(workspace: string): Promise<TokenInfo[]>;
  revokeToken(workspace: string | undefined, id: string): Promise<void>;
  setCache(workspace: string, cache: { substituter: string | null; publicKey: string | null }): Promise<Workspace>;
  createWorkspace(name: string): Promise<Workspace>;
  listWorkspaces(): Promise<Workspace[]>;
  /** A page of the audit log: locally every workspace (or `workspace`), through the API the admin token's workspace. */
  listAudit(query: AuditQuery): Promise<AuditList>;
  close(): Promise<void>;
}

/** The filters of `drover audit` (see AuditQuerySchema). */
interface AuditQuery {
  workspace?: string | undefined;
  action?: string | undefined;
  actor?: string | undefined;
  target?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  limit: number;
  offset?: number | undefined;
}

interface TokenInput {
  workspace: string;
  kind: TokenKind;
  agent?: string | undefined;
  /** Agent tokens without --agent: the first connection claims the name. */
  unbound?: boolean | undefined;
  description?: string | undefined;
  /** push/pull tokens: bound to this cache. */
  cache?: string | undefined;
}

export interface AdminFlags {
  server?: string;
  token?: string;
  dataDir?: string;
  databaseUrl?: string;
  databaseSchema?: string;
  config?: string;
}

class LocalAdmin implements AdminTarget {
  constructor(
    private readonly database: OpenDatabase,
    /** The server's audit retention, as its settings say. */
    private readonly auditRetentionDays: number,
  ) {}

  private get db() {
    return this.database.db;
  }

  async createToken(input: TokenInput) {
    const ws = await findWorkspace(this.db, input.workspace);
    const cache = input.cache === undefined ? undefined : await findCache(this.db, input.cache, ws.id);
    const { token, row } = await createToken(this.db, {
      cacheId: cache?.id,
      workspaceId: ws.id,
      kind: input.kind,
      agentName: input.agent === undefined ? undefined : parseAgentName(input.agent),
      unbound: input.unbound === true ? 'claim' : undefined,
      description: input.description,
    });
    const info = toTokenApi(row, ws.name);
    await recordLocal(this.database, 'token.create', info.id, ws.name, {
      kind: info.kind,
      agent: info.agent,
      agentBinding: info.agentBinding,
      cache: input.cache,
      description: info.description,
    });
    return { token, info };
  }

  async listTokens(workspace: string) {
    return listTokens(this.db, (await findWorkspace(this.db, workspace)).id);
  }

  async revokeToken(workspace: string | undefined, id: string) {
    const wsId = workspace ? (await findWorkspace(this.db, workspace)).id : null;
    if (!(await revokeToken(this.db, wsId, id))) throw new DroverError('DROVER_ERR_TOKEN_NOT_FOUND', `no token ${JSON.stringify(id)}`);
    await recordLocal(this.database, 'token.revoke', id, workspace ?? null);
    // A running server refuses it from the next request on and closes open agent sockets within a ping interval.
  }

  async setCache(workspace: string, cache: { substituter: string | null; publicKey: string | null }) {
    const ws = toWorkspaceApi(await setWorkspaceCache(this.db, (await findWorkspace(this.db, workspace)).id, cache));
    await recordLocal(this.database, 'workspace.set-cache', ws.name, ws.name, cache);
    return ws;
  }

  async createWorkspace(name: string) {
    const ws = toWorkspaceApi(await createWorkspace(this.db, name));
    await recordLocal(this.database, 'workspace.create', ws.name, ws.name);
    return ws;
  }

  async listWorkspaces() {
    return (await listWorkspaces(this.db)).map((w) => toWorkspaceApi(w));
  }

  async listAudit({ workspace, ...filter }: AuditQuery): Promise<AuditList> {
    const workspaceId = workspace === undefined ? undefined : (await findWorkspace(this.db, workspace)).id;
    return { ...(await listAuditEntries(this.db, { ...filter, workspaceId })), retentionDays: this.auditRetentionDays };
  }

  close() {
    return this.database.close();
  }
}

class RemoteAdmin implements AdminTarget {
  constructor(private readonly api: ApiClient) {}

  private async checkWorkspace(workspace: string | undefined): Promise<void> {
    if (!workspace) return;
    const ws = await this.api.request<Workspace>('GET', '/workspace');
    if (ws.name !== workspace) {
      throw new DroverError('DROVER_ERR_FORBIDDEN', `the admin token belongs to workspace ${JSON.stringify(ws.name)}, not ${JSON.stringify(workspace)}`);
    }
  }

  async createToken(input: TokenInput) {
    await this.checkWorkspace(input.workspace);
    return this.api.request<{ token: string; info: TokenInfo }>('POST', '/tokens', {
      ...(input.cache ? { cache: input.cache } : {}),
      kind: input.kind,
      ...(input.agent ? { agent: input.agent } : {}),
      ...(input.unbound === true ? { unbound: true } : {}),
      ...(input.description ? { description: input.description } : {}),
    });
  }

  async listTokens(workspace: string) {
    await this.checkWorkspace(workspace);
    return (await this.api.request<{ tokens: TokenInfo[] }>('GET', '/tokens')).tokens;
  }

  async revokeToken(workspace: string | undefined, id: string) {
    await this.checkWorkspace(workspace);
    await this.api.request('DELETE', `/tokens/${encodeURIComponent(id)}`);
  }

  async setCache(workspace: string, cache: { substituter: string | null; publicKey: string | null }) {
    await this.checkWorkspace(workspace);
    return this.api.request<Workspace>('PUT', '/workspace/cache', cache);
  }

  async createWorkspace(): Promise<Workspace> {
    throw new DroverError('DROVER_ERR_FORBIDDEN', 'workspaces are created on the server machine: use --data-dir or --database-url instead of --server');
  }

  async listWorkspaces() {
    return [await this.api.request<Workspace>('GET', '/workspace')];
  }

  async listAudit({ workspace, ...query }: AuditQuery): Promise<AuditList> {
    await this.checkWorkspace(workspace);
    return this.api.http.request('GET', '/audit', { query: { ...query }, decode: schemaDecoder(AuditListSchema) });
  }

  async close() {}
}

export async function openAdminTarget(flags: AdminFlags): Promise<AdminTarget> {
  const server = flags.server ?? process.env['DROVER_SERVER'];
  const useServer =
    flags.server !== undefined || (server && !flags.dataDir && !flags.databaseUrl && !process.env['DROVER_DATA_DIR'] && !process.env['DROVER_DATABASE_URL']);
  if (useServer && server) {
    const token = flags.token ?? process.env['DROVER_ADMIN_TOKEN'];
    if (!token) throw new DroverError('DROVER_ERR_UNAUTHORIZED', 'with --server, an admin token is needed: set DROVER_ADMIN_TOKEN or pass --token');
    return new RemoteAdmin(new ApiClient({ server, token }));
  }
  const settings = resolveServerSettings({ configFile: flags.config, env: process.env, flags: {} });
  return new LocalAdmin(await openLocalDatabase(flags), settings.auditRetentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS);
}

/**
 * The server's own database (--data-dir / --database-url / config), migrated:
 * for commands run on the server machine. It must exist already (the server
 * creates it at its first start): a mistyped --data-dir is refused instead
 * of getting a new, empty database the server never reads.
 */
export async function openLocalDatabase(flags: AdminFlags): Promise<OpenDatabase> {
  const settings = resolveServerSettings({
    configFile: flags.config,
    env: process.env,
    flags: { dataDir: flags.dataDir, databaseUrl: flags.databaseUrl, databaseSchema: flags.databaseSchema },
  });
  const database = await openDatabase({ ...settings, create: false });
  try {
    await migrateToLatest(database);
    await ensureDefaultWorkspace(database.db);
  } catch (err) {
    await database.close();
    throw err;
  }
  return database;
}
