/**
 * Bearer tokens: minting, verifying, listing, revoking.
 *
 * A token is `drover_<kind>_<id>_<secret>` (see @drover/protocol). Only the
 * id and a SHA-256 of the secret are stored; verification looks the row up by
 * id and compares hashes with `timingSafeEqual`. The token text is returned
 * once, at creation, and never logged.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CompiledQuery, type Kysely } from 'kysely';
import { DroverError, formatToken, parseToken, tokenBinding, type AgentBinding, type AgentName, type TokenInfo, type TokenKind } from '@drover/protocol';
import type { Database, TokenRow } from '../db/schema.js';
import { chunks } from '../db/chunks.js';
import { manyValuesOf, sqlText } from '../db/many-values.js';
import { nowIso } from '../db/time.js';
import { declareAgent } from '../agents/repository.js';
import { Batched } from '../db/batched-read.js';

/** Who a verified token speaks for. */
export interface Principal {
  readonly tokenId: string;
  readonly kind: TokenKind;
  readonly workspaceId: string;
  readonly workspaceName: string;
  /** Set for agent tokens bound to one agent. */
  readonly agentName: string | null;
  /** An unbound agent token whose first connection claims its agent name (see claimAgentName). */
  readonly claimsAgent: boolean;
  /** Set for push/pull tokens bound to one cache. */
  readonly cacheId: string | null;
  readonly description: string;
}

function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export interface CreateTokenInput {
  readonly workspaceId: string;
  readonly kind: TokenKind;
  /** Agent tokens name their agent, unless `unbound` says otherwise. */
  readonly agentName?: AgentName | undefined;
  /**
   * Agent tokens without a name: `claim` (fleet enrolment) binds to the name
   * of its first connection; `any` accepts every name, as unbound tokens did
   * before (kept for tests of such tokens; not offered by the CLI or API).
   */
  readonly unbound?: 'claim' | 'any' | undefined;
  readonly description?: string | undefined;
  /** push/pull tokens: bound to this cache only. */
  readonly cacheId?: string | undefined;
}

export async function createToken(db: Kysely<Database>, input: CreateTokenInput): Promise<{ token: string; row: TokenRow }> {
  // What a kind may be bound to is in the permission table (@drover/protocol roles.ts).
  if (input.agentName && tokenBinding(input.kind) !== 'agent') {
    throw new DroverError('DROVER_ERR_VALIDATION', `only agent tokens can be bound to an agent name (got kind ${input.kind})`);
  }
  if (tokenBinding(input.kind) === 'agent' && !input.agentName && !input.unbound) {
    throw new DroverError(
      'DROVER_ERR_AGENT_TOKEN_UNBOUND',
      'an agent token names its agent (--agent NAME); ask for --unbound to let its first connection claim a name',
    );
  }
  if (input.agentName && input.unbound) throw new DroverError('DROVER_ERR_VALIDATION', 'an agent token is either bound to a name or unbound, not both');
  if (input.unbound && tokenBinding(input.kind) !== 'agent') {
    throw new DroverError('DROVER_ERR_VALIDATION', `only agent tokens can be unbound (got kind ${input.kind})`);
  }
  if (input.cacheId && tokenBinding(input.kind) !== 'cache') {
    throw new DroverError('DROVER_ERR_VALIDATION', `only push and pull tokens can be bound to a cache (got kind ${input.kind})`);
  }
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('hex');
  const row: TokenRow = {
    id,
    workspace_id: input.workspaceId,
    kind: input.kind,
    agent_name: input.agentName ?? null,
    claims_agent: input.unbound === 'claim' ? 1 : 0,
    description: input.description ?? '',
    secret_hash: hashSecret(secret).toString('hex'),
    created_at: nowIso(),
    last_used_at: null,
    revoked_at: null,
  };
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('tokens').values(row).execute();
    // A token bound to a name declares that agent, so a first deployment can
    // be queued before the machine has ever connected.
    if (input.agentName) await declareAgent(tx, input.workspaceId, input.agentName);
    if (input.cacheId) await tx.insertInto('token_caches').values({ token_id: id, cache_id: input.cacheId }).execute();
  });
  return { token: formatToken({ kind: input.kind, id, secret }), row };
}

/** Reads the token from an `Authorization: Bearer TOKEN` header value. */
export function bearerFrom(header: string | undefined): string | null {
  if (!header) return null;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? null;
}

/** The columns verification reads, one row per token id: a token with its workspace's name and, for a push or pull token, its cache (db/many-values.ts: the text is built once per list length). */
const TOKEN_ROWS =
  `select "tokens"."id", "tokens"."kind", "tokens"."secret_hash", "tokens"."revoked_at", "tokens"."agent_name", "tokens"."claims_agent",` +
  ` "tokens"."description", "tokens"."workspace_id", "workspaces"."name" as "workspace_name", "token_caches"."cache_id" from "tokens"` +
  ` inner join "workspaces" on "workspaces"."id" = "tokens"."workspace_id"` +
  ` left join "token_caches" on "token_caches"."token_id" = "tokens"."id"`;

async function readTokenRows(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, TokenCheckRow>> {
  const found = new Map<string, TokenCheckRow>();
  const many = manyValuesOf(db);
  for (const part of chunks(ids)) {
    const query = sqlText(many, `tokens.check:${part.length}`, () => `${TOKEN_ROWS} where ${many.inList('"tokens"."id"', 1, part.length)}`);
    const { rows } = await db.executeQuery<TokenCheckRow>(CompiledQuery.raw(query, many.listParameters(part)));
    // A push or pull token has at most one cache; the first row stands, as a single read's would.
    for (const row of rows) if (!found.has(row.id)) found.set(row.id, row);
  }
  return found;
}

/** A token row as verification reads it: with its workspace's name and its cache (push and pull tokens). */
type TokenCheckRow = Pick<TokenRow, 'id' | 'kind' | 'secret_hash' | 'revoked_at' | 'agent_name' | 'claims_agent' | 'description' | 'workspace_id'> & {
  workspace_name: string;
  cache_id: string | null;
};

/** Reads token rows by id; `verifyToken` reads one at a time, a `TokenVerifier` the ids asked for together. */
type TokenRowReader = (id: string) => Promise<TokenCheckRow | undefined>;

/**
 * Checks a token and says whom it speaks for; throws a DroverError saying
 * exactly what is wrong (missing, malformed, unknown, revoked). What its kind
 * may do is decided by the route's declared action (http/access.ts).
 */
export async function verifyToken(db: Kysely<Database>, token: string | null): Promise<Principal> {
  return checkToken(async (id) => (await readTokenRows(db, [id])).get(id), token);
}

/**
 * The server's token check: `verifyToken`, with the rows of the tokens
 * presented together read by one statement (db/batched-read.ts). Each is
 * still read after it was presented, so a revocation committed before is
 * always seen. Requests are checked as they come (one turn of the event
 * loop); agent connections — a fleet reconnecting presents thousands of
 * agent tokens, one per handshake, at the pace of its round trips — are
 * gathered for up to 2 ms, as their hellos are (hub/agent-hub.ts).
 */
export class TokenVerifier {
  private readonly now: Batched<string, TokenCheckRow>;
  private readonly gathered: Batched<string, TokenCheckRow>;

  constructor(db: Kysely<Database>) {
    this.now = new Batched((ids) => readTokenRows(db, ids));
    this.gathered = new Batched((ids) => readTokenRows(db, ids), { windowMs: 2, maxKeys: 500 });
  }

  /** `gather`: an agent connection, which may wait 2 ms for others to share its read. */
  verify(token: string | null, gather = false): Promise<Principal> {
    const rows = gather ? this.gathered : this.now;
    return checkToken((id) => rows.load(id), token);
  }
}

async function checkToken(read: TokenRowReader, token: string | null): Promise<Principal> {
  if (!token) {
    throw new DroverError('DROVER_ERR_UNAUTHORIZED', 'no token: send "Authorization: Bearer TOKEN"');
  }
  const parsed = parseToken(token);
  if (!parsed) {
    throw new DroverError('DROVER_ERR_UNAUTHORIZED', 'the token is malformed (expected drover_<kind>_<id>_<secret>); copy it again from `drover token create`');
  }
  const row = await read(parsed.id);
  const presented = hashSecret(parsed.secret);
  // Compare even when the row is missing, so timing does not tell ids apart.
  const stored = row ? Buffer.from(row.secret_hash, 'hex') : Buffer.alloc(presented.length);
  const matches = stored.length === presented.length && timingSafeEqual(stored, presented) && !!row;
  if (!row || !matches || row.kind !== parsed.kind) {
    throw new DroverError('DROVER_ERR_UNAUTHORIZED', `token ${parsed.id} is not known to this server; check the server URL or create a new token`);
  }
  if (row.revoked_at) {
    throw new DroverError('DROVER_ERR_TOKEN_REVOKED', `token ${row.id} was revoked at ${row.revoked_at}`);
  }
  return {
    tokenId: row.id,
    kind: row.kind,
    workspaceId: row.workspace_id,
    workspaceName: row.workspace_name,
    agentName: row.agent_name,
    claimsAgent: row.agent_name === null && row.claims_agent === 1,
    cacheId: row.cache_id,
    description: row.description,
  };
}

export async function listTokens(db: Kysely<Database>, workspaceId: string): Promise<TokenInfo[]> {
  const rows = await db
    .selectFrom('tokens')
    .innerJoin('workspaces', 'workspaces.id', 'tokens.workspace_id')
    .selectAll('tokens')
    .select('workspaces.name as workspace_name')
    .where('tokens.workspace_id', '=', workspaceId)
    .orderBy('tokens.created_at')
    .execute();
  return rows.map((r) => toTokenApi(r, r.workspace_name));
}

export function toTokenApi(row: TokenRow, workspaceName: string): TokenInfo {
  return {
    id: row.id,
    kind: row.kind,
    workspace: workspaceName,
    agent: row.agent_name,
    agentBinding: agentBindingOf(row),
    description: row.description,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

function agentBindingOf(row: TokenRow): AgentBinding | null {
  if (tokenBinding(row.kind) !== 'agent') return null;
  if (row.agent_name !== null) return 'bound';
  return row.claims_agent === 1 ? 'claim' : 'any';
}

/**
 * The first connection of a `--unbound` agent token claims its agent name:
 * one guarded UPDATE binds the token, so of two racing first connections
 * one wins. Returns the name the token is bound to afterwards (this one, or
 * the winner's); null when the token does not claim (legacy unbound).
 */
export async function claimAgentName(db: Kysely<Database>, tokenId: string, name: AgentName): Promise<string | null> {
  await db.updateTable('tokens').set({ agent_name: name }).where('id', '=', tokenId).where('agent_name', 'is', null).where('claims_agent', '=', 1).execute();
  const row = await db.selectFrom('tokens').select('agent_name').where('id', '=', tokenId).executeTakeFirst();
  return row?.agent_name ?? null;
}

/** Marks a token revoked; returns false when the workspace has no such token. */
export async function revokeToken(db: Kysely<Database>, workspaceId: string | null, id: string): Promise<boolean> {
  let q = db.updateTable('tokens').set({ revoked_at: nowIso() }).where('id', '=', id).where('revoked_at', 'is', null);
  if (workspaceId) q = q.where('workspace_id', '=', workspaceId);
  const result = await q.executeTakeFirst();
  if (Number(result.numUpdatedRows) > 0) return true;
  let exists = db.selectFrom('tokens').select('id').where('id', '=', id);
  if (workspaceId) exists = exists.where('workspace_id', '=', workspaceId);
  return !!(await exists.executeTakeFirst()); // already revoked counts as done
}

/** The ids of a workspace's tokens (their connections close when it is deleted). */
export async function workspaceTokenIds(db: Kysely<Database>, workspaceId: string): Promise<string[]> {
  return (await db.selectFrom('tokens').select('id').where('workspace_id', '=', workspaceId).execute()).map((t) => t.id);
}

/** Which of these tokens are still valid (not revoked, not deleted). */
export async function liveTokenIds(db: Kysely<Database>, ids: readonly string[]): Promise<Set<string>> {
  const live = new Set<string>();
  for (const part of chunks(ids)) {
    for (const r of await db.selectFrom('tokens').select('id').where('id', 'in', part).where('revoked_at', 'is', null).execute()) live.add(r.id);
  }
  return live;
}

/** Revokes the live agent tokens bound to this agent name (decommissioning it); their ids. */
export async function revokeAgentTokens(db: Kysely<Database>, workspaceId: string, agentName: string): Promise<string[]> {
  const rows = await db
    .updateTable('tokens')
    .set({ revoked_at: nowIso() })
    .where('workspace_id', '=', workspaceId)
    .where('agent_name', '=', agentName)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}
