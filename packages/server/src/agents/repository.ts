/**
 * Agents as stored: registration on connect, presence, listing.
 *
 * An agent row is created the first time an agent connects with a token of
 * its workspace (or when a token bound to its name is created). Presence
 * costs one write per connect and per disconnect; pings only mark the agent
 * in memory and `touchLastSeen` writes them in batches to agent_presence, one
 * statement per few hundred agents. A decommissioned agent (`removed_at`)
 * is left out of every list and lookup until it connects again.
 */
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import { type Agent, type AgentStatusFilter, type Fleet, type HelloMessage, type Selector } from '@drover/protocol';
import { skipsFlush, transactionWithoutFlush } from '../db/async-commit.js';
import { chunks } from '../db/chunks.js';
import { bulkChunks } from '../db/many-values.js';
import { newRowId } from '../db/row-id.js';
import type { AgentPresenceTable, AgentRow, Database } from '../db/schema.js';
import { nowIso } from '../db/time.js';
import { activationTargets, agentsBefore, liveAgentRows, upsertAgents, type ActivationTarget, type RowBefore, type UpsertedAgent } from './statements.js';
import { agentMatches, labelSetsOf, labelsOf, storedLabels, type AdminLabels, type LabelSets } from './labels.js';
import { agentStatusSql, countWhen } from './status-sql.js';

export interface Presence {
  /** An agent counts as online while its connection is open and it was seen within this window. */
  readonly onlineWindowMs: number;
}

/** An agent row with its latest batched pong (agent_presence). */
export type AgentSeen = Pick<AgentRow, 'connection_id' | 'last_seen_at'> & { readonly pong_at: string | null };

/** When the server last heard from the agent: a connect, a disconnect or a pong. */
export function lastSeen(row: AgentSeen): string | null {
  if (!row.pong_at) return row.last_seen_at;
  if (!row.last_seen_at) return row.pong_at;
  return row.pong_at > row.last_seen_at ? row.pong_at : row.last_seen_at;
}

export function isOnline(row: AgentSeen, presence: Presence, now = Date.now()): boolean {
  const seen = lastSeen(row);
  return !!row.connection_id && !!seen && Date.parse(seen) >= now - presence.onlineWindowMs;
}

/** A row for an agent that has never connected; registration fills in the rest. */
function newAgentRow(workspaceId: string, name: string, now: string): UpsertedAgent {
  return {
    id: newRowId(),
    workspace_id: workspaceId,
    name,
    created_at: now,
    version: null,
    system: null,
    profile: null,
    hostname: null,
    connection_id: null,
    replica_id: null,
    connected_at: null,
    disconnected_at: null,
    last_seen_at: null,
    current_store_path: null,
    problems: null,
    conflict_at: null,
    conflict_hostname: null,
    recipient: null,
    labels: null,
  };
}

/** How long a replacement from another host stays flagged as a conflict (a persisting one renews it every retry, 10 min). */
const CONFLICT_SHOWN_MS = 60 * 60_000;

export interface Registration {
  readonly workspaceId: string;
  readonly hello: HelloMessage;
  readonly connectionId: string;
  readonly replicaId: string;
}

interface Registered {
  readonly row: AgentRow;
  readonly connectedElsewhere: boolean;
  readonly replacedHost: string | null;
  /** The system the row had before this hello (null: never connected, or connected before agents said); see rollbackScripts in the hub. */
  readonly systemBefore: string | null;
  /** This hello created the row: nothing (no deployment) refers to the agent yet. */
  readonly created: boolean;
}

/** What registering one agent came to: its row, or the error that agent's own write met. */
export type RegistrationOutcome = { readonly ok: Registered } | { readonly error: unknown };

/** Rows per upsert statement: ~20 parameters a row stays far below SQLite's and PostgreSQL's limits. */
const UPSERT_ROWS = 200;

/**
 * Records connected agents (creating each on first contact) with what their
 * hellos said: the hellos that arrived together cost one transaction, a
 * read of the rows before and one multi-row upsert per 200 agents, instead
 * of two statements and a commit (a WAL write, on PostgreSQL an fsync) each.
 *
 * `connectedElsewhere` says whether another replica still had the agent
 * connected — only then must the other replicas be told to drop their
 * socket, so a fleet reconnecting after a restart costs no broadcast per
 * agent. `replacedHost` is the host of a connection still open (its socket
 * is closed as replaced); one from another host is recorded as a conflict —
 * from the same host it is the agent's own reconnect (or its bootstrap
 * handing over), not flagged.
 *
 * Two hellos of one name in one batch are written in order, each in its own
 * round. If the batch's transaction fails, each registration is tried alone,
 * so a value the database refuses fails only the hello that carried it.
 */
export async function registerAgents(db: Kysely<Database>, inputs: readonly Registration[]): Promise<Map<Registration, RegistrationOutcome>> {
  const outcomes = new Map<Registration, RegistrationOutcome>();
  // Hellos are connection state (db/async-commit.ts): on PostgreSQL even one alone commits without waiting for the
  // disk. One alone on SQLite needs no transaction: its two statements commit as they run.
  if (inputs.length > 1 || skipsFlush(db)) {
    try {
      const results = await transactionWithoutFlush(db, (tx) => registerInRounds(tx, inputs));
      for (const [input, ok] of results) outcomes.set(input, { ok });
      return outcomes;
    } catch {
      // Tried alone below: each hello gets the error its own write meets, if any.
    }
  }
  for (const input of inputs) outcomes.set(input, await registerAlone(db, input));
  return outcomes;
}

async function registerAlone(db: Kysely<Database>, input: Registration): Promise<RegistrationOutcome> {
  try {
    const ok = (await registerRound(db, [input])).get(input);
    return ok ? { ok } : { error: new Error(`registering "${input.hello.agent}" gave no outcome`) };
  } catch (error) {
    return { error };
  }
}

/** One key per agent: its workspace and name. */
function agentKey(workspaceId: string, name: string): string {
  return `${workspaceId}\u0000${name}`;
}

/** Splits the inputs into rounds in which every (workspace, name) appears once, in arrival order. */
function rounds(inputs: readonly Registration[]): Registration[][] {
  const out: Registration[][] = [];
  const roundOf = new Map<string, number>();
  for (const input of inputs) {
    const key = agentKey(input.workspaceId, input.hello.agent);
    const round = (roundOf.get(key) ?? -1) + 1;
    roundOf.set(key, round);
    (out[round] ??= []).push(input);
  }
  return out;
}

async function registerInRounds(db: Kysely<Database>, inputs: readonly Registration[]): Promise<Map<Registration, Registered>> {
  const results = new Map<Registration, Registered>();
  for (const round of rounds(inputs)) for (const part of chunks(round, UPSERT_ROWS)) for (const [k, v] of await registerRound(db, part)) results.set(k, v);
  return results;
}

async function registerRound(db: Kysely<Database>, inputs: readonly Registration[]): Promise<Map<Registration, Registered>> {
  const results = new Map<Registration, Registered>();
  const now = nowIso();
  const before = new Map<string, RowBefore>();
  for (const [workspaceId, names] of groupNames(inputs)) {
    for (const row of await agentsBefore(db, workspaceId, names)) before.set(agentKey(row.workspace_id, row.name), row);
  }
  const values = inputs.map((input): UpsertedAgent => {
    const { hello } = input;
    const was = before.get(agentKey(input.workspaceId, hello.agent));
    const replacedHost = was?.connection_id ? was.hostname : null;
    const conflict = replacedHost !== null && replacedHost !== hello.hostname;
    return {
      ...newAgentRow(input.workspaceId, hello.agent, now),
      version: hello.version,
      system: hello.system,
      profile: hello.profile,
      hostname: hello.hostname,
      problems: hello.problems && hello.problems.length > 0 ? JSON.stringify(hello.problems) : null,
      recipient: hello.recipient ?? null,
      connection_id: input.connectionId,
      replica_id: input.replicaId,
      connected_at: now,
      last_seen_at: now,
      // The agent's own labels come with every hello; an admin's changes stay.
      labels: storedLabels(hello.labels ?? {}, labelSetsOf(was ?? { labels: null }).admin),
      conflict_at: conflict ? now : null,
      conflict_hostname: conflict ? replacedHost : null,
    };
  });
  const rows = await upsertAgents(db, values);
  const byName = new Map(rows.map((row) => [agentKey(row.workspace_id, row.name), row]));
  for (const input of inputs) {
    const k = agentKey(input.workspaceId, input.hello.agent);
    const was = before.get(k);
    const row = byName.get(k);
    if (!row) throw new Error(`the agents upsert returned no row for "${input.hello.agent}"`);
    results.set(input, {
      row,
      connectedElsewhere: !!was?.connection_id && was.replica_id !== input.replicaId,
      replacedHost: was?.connection_id ? was.hostname : null,
      systemBefore: was?.system ?? null,
      created: was === undefined,
    });
  }
  return results;
}

function groupNames(inputs: readonly Registration[]): Map<string, string[]> {
  const byWorkspace = new Map<string, string[]>();
  for (const input of inputs) {
    const names = byWorkspace.get(input.workspaceId);
    if (names) names.push(input.hello.agent);
    else byWorkspace.set(input.workspaceId, [input.hello.agent]);
  }
  return byWorkspace;
}

/** What keeps the agent from deploying now (`agent.problems`, after its hello). */
export async function setAgentProblems(db: Kysely<Database>, agentId: string, problems: readonly string[]): Promise<void> {
  await db
    .updateTable('agents')
    .set({ problems: problems.length > 0 ? JSON.stringify(problems) : null })
    .where('id', '=', agentId)
    .execute();
}

/** Creates an agent that has never connected (yet), unless it exists. */
export async function declareAgent(db: Kysely<Database>, workspaceId: string, name: string): Promise<void> {
  await db
    .insertInto('agents')
    .values(newAgentRow(workspaceId, name, nowIso()))
    .onConflict((oc) => oc.columns(['workspace_id', 'name']).doNothing())
    .execute();
}

/** A connection of an agent that closed. */
export interface ClosedConnection {
  readonly agentId: string;
  readonly connectionId: string;
}

/**
 * Records closed connections, each unless a newer connection of its agent already replaced it: one statement per
 * few hundred, so a fleet whose connections drop together (a network cut, a proxy restarting) costs a commit per
 * batch, not one per agent.
 */
export async function markDisconnected(db: Kysely<Database>, closed: readonly ClosedConnection[]): Promise<void> {
  const now = nowIso();
  for (const part of chunks(closed)) {
    await db
      .updateTable('agents')
      .set({ connection_id: null, disconnected_at: now, last_seen_at: now })
      // By id (the primary key), then each agent only with the connection that closed.
      .where(
        'id',
        'in',
        part.map((c) => c.agentId),
      )
      .where((eb) =>
        eb(
          eb.refTuple('id', 'connection_id'),
          'in',
          part.map((c) => eb.tuple(c.agentId, c.connectionId)),
        ),
      )
      .execute();
  }
}

/** Marks every agent connected to a replica offline, when that replica shuts down. */
export async function markReplicaDisconnected(db: Kysely<Database>, replicaId: string): Promise<void> {
  await db
    .updateTable('agents')
    .set({ connection_id: null, disconnected_at: nowIso() })
    .where('replica_id', '=', replicaId)
    .where('connection_id', 'is not', null)
    .execute();
}

export async function touchLastSeen(db: Kysely<Database>, agentIds: readonly string[]): Promise<void> {
  const now = nowIso();
  for (const part of chunks(agentIds)) {
    await db
      .insertInto('agent_presence')
      .values(part.map((agent_id) => ({ agent_id, last_seen_at: now })))
      .onConflict((oc) => oc.column('agent_id').doUpdateSet({ last_seen_at: (eb) => eb.ref('excluded.last_seen_at') }))
      .execute();
  }
}

export async function findAgentsByName(db: Kysely<Database>, workspaceId: string, names: readonly string[]): Promise<(AgentRow & AgentSeen)[]> {
  const out: (AgentRow & AgentSeen)[] = [];
  for (const part of chunks(names)) out.push(...(await liveAgentRows(db, workspaceId, part)));
  return out;
}

export async function findActivationTargets(db: Kysely<Database>, workspaceId: string, names: readonly string[]): Promise<ActivationTarget[]> {
  const out: ActivationTarget[] = [];
  for (const part of bulkChunks(db, names)) out.push(...(await activationTargets(db, workspaceId, part)));
  return out;
}

const agentColumns = [
  'agents.id',
  'agents.name',
  'agents.created_at',
  'agents.version',
  'agents.system',
  'agents.profile',
  'agents.hostname',
  'agents.connection_id',
  'agents.connected_at',
  'agents.last_seen_at',
  'p.last_seen_at as pong_at',
  'agents.current_store_path',
  'agents.problems',
  'agents.conflict_at',
  'agents.conflict_hostname',
  'agents.labels',
  'agents.recipient',
  'd.id as d_id',
  'd.index_no as d_index',
  'd.status as d_status',
  'd.store_path as d_store_path',
  'd.created_at as d_created_at',
  'd.started_at as d_started_at',
  'd.finished_at as d_finished_at',
] as const;

export interface AgentFilter {
  /** Exactly this name. */
  readonly name?: string | undefined;
  /** Ids among these (the live event stream asks for the agents that changed). */
  readonly ids?: readonly string[] | undefined;
  /** Case-insensitive substring of the name. */
  readonly q?: string | undefined;
  readonly status?: AgentStatusFilter | undefined;
  /** Labels matching this selector (effective labels, agents/labels.ts). */
  readonly selector?: Selector | undefined;
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
}

/** `… LIKE pattern ESCAPE '\'` for a literal substring. */
function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The filter as WHERE clauses (all but the selector), shared by the page query and its count. */
function whereAgents<QB extends SelectQueryBuilder<AgentJoins, 'agents' | 'p' | 'd', object>>(
  q: QB,
  workspaceId: string,
  filter: AgentFilter,
  presence: Presence,
): QB {
  let out = q.where('agents.workspace_id', '=', workspaceId).where('agents.removed_at', 'is', null) as QB;
  if (filter.name) out = out.where('agents.name', '=', filter.name) as QB;
  if (filter.ids) out = out.where('agents.id', 'in', filter.ids.length > 0 ? filter.ids : ['']) as QB;
  if (filter.q) out = out.where(sql<boolean>`lower(${sql.ref('agents.name')}) like ${containsPattern(filter.q)} escape '\\'`) as QB;
  if (filter.status) out = out.where(agentStatusSql(filter.status, presence)) as QB;
  return out;
}

type AgentJoins = Database & { p: AgentPresenceTable; d: Database['deployments'] };

/** The agents with their latest deployment (d) and batched pong (p). */
function agentsWithLatest(db: Kysely<Database>) {
  return (
    db
      .selectFrom('agents')
      // The newest deployment is the one whose index is the agent's last handed-out index.
      .leftJoin('deployments as d', (join) => join.onRef('d.agent_id', '=', 'agents.id').onRef('d.index_no', '=', 'agents.last_index'))
      .leftJoin('agent_presence as p', 'p.agent_id', 'agents.id')
  );
}

/**
 * The fleet overview of a workspace (`GET …/fleet`): its agents counted by
 * presence and by their latest deployment in one aggregate query, with the
 * conditions the list filters by (status-sql.ts); removed agents not counted.
 */
export async function fleetOverview(db: Kysely<Database>, workspaceId: string, presence: Presence): Promise<Fleet> {
  const row = await agentsWithLatest(db)
    .select((eb) => [
      eb.fn.countAll().as('total'),
      countWhen(agentStatusSql('online', presence)).as('online'),
      countWhen(agentStatusSql('succeeded', presence)).as('succeeded'),
      countWhen(agentStatusSql('failed', presence)).as('failed'),
      countWhen(agentStatusSql('pending', presence)).as('pending'),
      countWhen(agentStatusSql('inprogress', presence)).as('inProgress'),
      countWhen(agentStatusSql('behind', presence)).as('behind'),
    ])
    .where('agents.workspace_id', '=', workspaceId)
    .where('agents.removed_at', 'is', null)
    .executeTakeFirstOrThrow();
  const total = Number(row.total);
  const online = Number(row.online);
  return {
    total,
    online,
    offline: total - online,
    succeeded: Number(row.succeeded),
    failed: Number(row.failed),
    pending: Number(row.pending),
    inProgress: Number(row.inProgress),
    behind: Number(row.behind),
  };
}

/** One page of a workspace's agents by name, and how many match the filter in all. */
export async function listAgents(
  db: Kysely<Database>,
  workspace: { id: string; name: string },
  presence: Presence,
  filter: AgentFilter = {},
): Promise<{ agents: Agent[]; total: number }> {
  if (filter.selector && filter.selector.requirements.length > 0) return listBySelector(db, workspace, presence, { ...filter, selector: filter.selector });
  let q = whereAgents(agentListQuery(db), workspace.id, filter, presence).orderBy('agents.name');
  if (filter.limit !== undefined) q = q.limit(filter.limit).offset(filter.offset ?? 0);
  const rows = await q.execute();
  const paged = filter.limit !== undefined && (rows.length === filter.limit || (filter.offset ?? 0) > 0);
  const total = paged
    ? Number(
        (
          await whereAgents(
            agentsWithLatest(db).select((eb) => eb.fn.countAll().as('n')),
            workspace.id,
            filter,
            presence,
          ).executeTakeFirstOrThrow()
        ).n,
      )
    : rows.length;
  return { agents: rows.map((r) => toAgentApi(r, workspace.name, presence)), total };
}

/**
 * A selector is matched on the effective labels (agents/labels.ts) rather
 * than in SQL: the other filters narrow the rows in SQL, the labels of those
 * (id and labels only) are matched here, and only the page asked for is read
 * in full.
 */
async function listBySelector(
  db: Kysely<Database>,
  workspace: { id: string; name: string },
  presence: Presence,
  filter: AgentFilter & { selector: Selector },
): Promise<{ agents: Agent[]; total: number }> {
  const candidates = await whereAgents(agentsWithLatest(db).select(['agents.id', 'agents.labels']), workspace.id, filter, presence)
    .orderBy('agents.name')
    .execute();
  const matching = candidates.filter((r) => agentMatches(r, filter.selector)).map((r) => r.id);
  const offset = filter.offset ?? 0;
  const ids = filter.limit === undefined ? matching.slice(offset) : matching.slice(offset, offset + filter.limit);
  const rows: AgentListRow[] = [];
  for (const part of chunks(ids)) rows.push(...(await agentListQuery(db).where('agents.id', 'in', part).execute()));
  const order = new Map(ids.map((id, i) => [id, i]));
  rows.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  return { agents: rows.map((r) => toAgentApi(r, workspace.name, presence)), total: matching.length };
}

type AgentListRow = Awaited<ReturnType<ReturnType<typeof agentListQuery>['execute']>>[number];
function agentListQuery(db: Kysely<Database>) {
  return agentsWithLatest(db).select(agentColumns);
}

/** The stored problems column: a JSON array of strings, or null. */
function parseProblems(text: string | null): string[] {
  if (!text) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((p): p is string => typeof p === 'string') : [];
  } catch {
    return [];
  }
}

function toAgentApi(r: AgentListRow, workspaceName: string, presence: Presence): Agent {
  return {
    id: r.id,
    name: r.name,
    workspace: workspaceName,
    online: isOnline(r, presence),
    lastSeenAt: lastSeen(r),
    connectedAt: r.connected_at,
    version: r.version,
    system: r.system,
    profile: r.profile,
    hostname: r.hostname,
    problems: parseProblems(r.problems),
    conflict:
      r.conflict_at && r.conflict_hostname && Date.parse(r.conflict_at) >= Date.now() - CONFLICT_SHOWN_MS
        ? { at: r.conflict_at, hostnames: [r.conflict_hostname, r.hostname ?? '?'] }
        : null,
    currentStorePath: r.current_store_path,
    recipient: r.recipient,
    ...labelFields(r),
    lastDeployment:
      r.d_id && r.d_index !== null && r.d_status && r.d_store_path && r.d_created_at
        ? {
            id: r.d_id,
            index: r.d_index,
            status: r.d_status,
            storePath: r.d_store_path,
            createdAt: r.d_created_at,
            startedAt: r.d_started_at,
            finishedAt: r.d_finished_at,
          }
        : null,
    createdAt: r.created_at,
  };
}

function labelFields(r: Pick<AgentRow, 'labels'>): Pick<Agent, 'labels' | 'agentLabels' | 'adminLabels'> {
  const sets = labelSetsOf(r);
  return { labels: labelsOf(r), agentLabels: sets.agent, adminLabels: sets.admin };
}

/** The store path each agent of the workspace last reported active (GC roots of the workspace's caches). */
export async function currentStorePaths(db: Kysely<Database>, workspaceId: string): Promise<{ agent: string; storePath: string }[]> {
  const rows = await db
    .selectFrom('agents')
    .select(['name', 'current_store_path'])
    .where('workspace_id', '=', workspaceId)
    .where('current_store_path', 'is not', null)
    .execute();
  return rows.flatMap((r) => (r.current_store_path ? [{ agent: r.name, storePath: r.current_store_path }] : []));
}

/** The store path each of these agents last reported active, by agent id (agents without one are absent). */
export async function currentPathsById(db: Kysely<Database>, agentIds: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const part of chunks([...new Set(agentIds)])) {
    const rows = await db
      .selectFrom('agents')
      .select(['id', 'current_store_path'])
      .where('id', 'in', part)
      .where('current_store_path', 'is not', null)
      .execute();
    for (const r of rows) if (r.current_store_path) out.set(r.id, r.current_store_path);
  }
  return out;
}

/**
 * Changes an agent's admin labels by `change` (given both stored sets),
 * compare-and-set on the column so a concurrent hello or admin edit is not
 * lost: it reads again and retries. False when there is no such agent.
 */
export async function updateAdminLabels(db: Kysely<Database>, workspaceId: string, name: string, change: (sets: LabelSets) => AdminLabels): Promise<boolean> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const row = await db
      .selectFrom('agents')
      .select(['id', 'labels'])
      .where('workspace_id', '=', workspaceId)
      .where('name', '=', name)
      .where('removed_at', 'is', null)
      .executeTakeFirst();
    if (!row) return false;
    const sets = labelSetsOf(row);
    const result = await db
      .updateTable('agents')
      .set({ labels: storedLabels(sets.agent, change(sets)) })
      .where('id', '=', row.id)
      .where((eb) => (row.labels === null ? eb('labels', 'is', null) : eb('labels', '=', row.labels)))
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) > 0) return true;
  }
  throw new Error(`labels of agent ${name} kept changing while being updated`);
}

/** Decommissions an agent (guarded: only one that is not removed yet); its id, or null when there is none to remove. */
export async function markRemoved(db: Kysely<Database>, workspaceId: string, name: string): Promise<string | null> {
  const row = await db
    .updateTable('agents')
    .set({ removed_at: nowIso() })
    .where('workspace_id', '=', workspaceId)
    .where('name', '=', name)
    .where('removed_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row?.id ?? null;
}
