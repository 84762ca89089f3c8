/**
 * Deployments as stored, and every state transition they go through.
 *
 * Transitions are single guarded UPDATEs (`… where status = 'Pending'`), so
 * concurrent replicas, replayed agent events and user actions cannot move a
 * deployment backwards. Handing out work is O(1) statements per chunk of
 * agents, not per agent.
 */
import { sql, type Kysely } from 'kysely';
import {
  DroverError,
  isStorePath,
  isUuid,
  type Actor,
  type Deployment,
  type DeploymentFinishedMessage,
  type DeploymentOrder,
  type LogLine,
  type LogLineJson,
  type StorePath,
  type WouldRestart,
} from '@drover/protocol';
import { chunks } from '../db/chunks.js';
import { bulkChunks } from '../db/many-values.js';
import { newRowId } from '../db/row-id.js';
import { selectOrders, type OrderRow } from './order-statements.js';
import { bumpIssuedIndex, insertDeployments, supersedeOlder, type InsertedDeployment } from './bulk.js';
import type { Database, DeploymentRow } from '../db/schema.js';
import { nowIso } from '../db/time.js';
import { parseStoredDiff } from './diffs-repository.js';
import { parseWouldRestart, storedWouldRestart } from './dry-run.js';

export interface DeploymentView extends DeploymentRow {
  agent_name: string;
  workspace_name: string;
  /** Its closure diff as stored (JSON), if one was computed. */
  diff_body: string | null;
}

export function toDeploymentApi(row: DeploymentView, publicUrl: string): Deployment {
  return {
    id: row.id,
    workspace: row.workspace_name,
    agent: row.agent_name,
    index: row.index_no,
    storePath: row.store_path,
    rollbackScript: row.rollback_script,
    status: row.status,
    reason: row.reason,
    activationId: row.activation_id,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    closureSize: row.closure_size,
    createdBy: actorOf(row),
    url: deploymentUrl(publicUrl, row.workspace_name, row.id),
    endedBy: endedByOf(row),
    diff: parseStoredDiff(row.diff_body),
    dry: row.dry === 1,
    wouldRestart: parseWouldRestart(row.would_restart),
    wave: row.wave,
    secretsOnly: row.secrets_only === 1,
  };
}

/** Who ended it by hand, why and when (null when no operator did). */
function endedByOf(row: DeploymentRow): Deployment['endedBy'] {
  if (row.ended_by === null || row.ended_at === null) return null;
  const actor = actorFrom(row.ended_by, row.ended_by_label);
  return { actor, reason: row.ended_reason ?? '', at: row.ended_at };
}

/** The page of a deployment in the web UI. */
export function deploymentUrl(publicUrl: string, workspace: string, id: string): string {
  return `${publicUrl.replace(/\/$/, '')}/w/${workspace}/deployments/${id}`;
}

function actorOf(row: DeploymentRow): Actor | null {
  return row.created_by ? actorFrom(row.created_by, row.created_by_label) : null;
}

/** An actor stored as `kind:id` plus its label then. */
export function actorFrom(stored: string, label: string | null): Actor {
  const colon = stored.indexOf(':');
  const kind = stored.slice(0, colon);
  const id = stored.slice(colon + 1);
  // Rows written before users existed hold a bare token id.
  if (colon < 0 || (kind !== 'user' && kind !== 'token')) return { kind: 'token', id: stored, label: label ?? stored };
  return { kind, id, label: label ?? id };
}

/** How an actor is stored: `kind:id`. */
export function storedActor(actor: Actor): string {
  return `${actor.kind}:${actor.id}`;
}

function selectViews(db: Kysely<Database>) {
  return db
    .selectFrom('deployments')
    .innerJoin('agents', 'agents.id', 'deployments.agent_id')
    .innerJoin('workspaces', 'workspaces.id', 'deployments.workspace_id')
    .leftJoin('deployment_diffs', 'deployment_diffs.deployment_id', 'deployments.id')
    .leftJoin('closure_diffs', (join) =>
      join.onRef('closure_diffs.workspace_id', '=', 'deployment_diffs.workspace_id').onRef('closure_diffs.pair', '=', 'deployment_diffs.pair'),
    )
    .selectAll('deployments')
    .select(['agents.name as agent_name', 'workspaces.name as workspace_name', 'closure_diffs.body as diff_body']);
}

/** Deadlocks and serialization failures (PostgreSQL) or a busy database (SQLite) are worth one more try. */
function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '40P01' || code === '40001' || code === 'SQLITE_BUSY';
}

/** Runs a whole transaction again (up to 3 times) when the database asks for it. */
async function retryOnConflict<T>(run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= attempts || !isTransient(err)) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt + Math.random() * 100));
    }
  }
}

export interface PlannedDeployment {
  readonly agentId: string;
  readonly storePath: StorePath;
  readonly rollbackScript: StorePath | null;
  /** All rollback scripts by system, when the agent's system is not known yet. */
  readonly rollbackScripts: Readonly<Record<string, string>> | null;
  /** The deploy's own deadlines (ms); absent: the agent's settings. */
  readonly deadlines?: Deadlines;
  /** A dry run: never supersedes a real deployment nor becomes the agent's latest (dry-run.ts). */
  readonly dry?: boolean;
  /** In a staged rollout: its wave, and the agent's current path (what a rollback returns to). */
  readonly wave?: number;
  readonly rolloutFrom?: string | null;
  /** A secrets-only deployment (secrets/deploy.ts): supersedes only an older Pending secrets-only one, never becomes the agent's latest. */
  readonly secretsOnly?: boolean;
}

/** The three kinds of deployment, each superseding only its own kind (a real one also a Pending secrets-only one: it carries the set). */
type DeploymentKind = 'real' | 'dry' | 'secrets';
const DEPLOYMENT_KINDS: readonly DeploymentKind[] = ['real', 'dry', 'secrets'];
function kindOf(p: PlannedDeployment): DeploymentKind {
  return p.dry ? 'dry' : p.secretsOnly ? 'secrets' : 'real';
}

export interface Deadlines {
  readonly activationTimeoutMs: number | null;
  readonly confirmTimeoutMs: number | null;
}

export interface CreatedDeployments {
  readonly activationId: string;
  readonly rows: DeploymentRow[];
  /** The ids of the older Pending deployments the new ones superseded. */
  readonly superseded: string[];
}

/**
 * Creates one Pending deployment per planned entry (Queued with `queued`: a
 * staged rollout releases them), in one transaction: each agent's index is
 * bumped, its older Pending and Queued deployments become Superseded, and the
 * new rows are inserted — three statements per chunk of agents (per kind:
 * a dry run only supersedes older dry runs, a real deployment only real
 * ones; see dry-run.ts). `within`
 * runs last in the same transaction (a rollout stores its own row there).
 */
export async function createDeployments(
  db: Kysely<Database>,
  input: {
    workspaceId: string;
    createdBy: Actor | null;
    planned: readonly PlannedDeployment[];
    queued?: boolean;
    within?: (tx: Kysely<Database>, activationId: string) => Promise<void>;
  },
): Promise<CreatedDeployments> {
  const activationId = newRowId();
  const now = nowIso();
  const createdBy = input.createdBy ? storedActor(input.createdBy) : null;
  const createdByLabel = input.createdBy?.label ?? null;
  // One activation hands most agents the same map: encoded once per distinct map.
  const scriptsJson = new Map<Readonly<Record<string, string>>, string>();
  const scriptsOf = (scripts: Readonly<Record<string, string>>): string => {
    let json = scriptsJson.get(scripts);
    if (json === undefined) scriptsJson.set(scripts, (json = JSON.stringify(scripts)));
    return json;
  };
  let rows: DeploymentRow[] = [];
  let superseded: string[] = [];
  await retryOnConflict(() =>
    db.transaction().execute(async (tx) => {
      rows = [];
      superseded = [];
      // Agents in id order: concurrent activations take their row locks in the same order.
      const planned = [...input.planned].sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
      const parts = bulkChunks(db, planned);
      // First what the new deployments take and end, then the new rows: the statements looking for the agents' older
      // deployments run before this transaction wrote any. After them, on PostgreSQL, each chunk's supersede slowed
      // with the rows inserted so far: 5.4 s of a first activation of 100,000 that superseded nothing (bench/README.md).
      const indexOf = new Map<string, number>();
      for (const part of parts) {
        for (const kind of DEPLOYMENT_KINDS) {
          const ids = part.filter((p) => kindOf(p) === kind).map((p) => p.agentId);
          if (ids.length === 0) continue;
          // Every deployment takes the next issued index; only a real one becomes the agent's latest.
          for (const [id, index] of await bumpIssuedIndex(tx, ids, kind === 'real')) indexOf.set(id, index);
          // A real deployment supersedes real and secrets-only ones (dry = 0), a dry run only dry runs, a secrets-only one only secrets-only ones.
          superseded.push(...(await supersedeOlder(tx, ids, kind, now)));
        }
      }
      for (const part of parts) {
        const values: InsertedDeployment[] = part.map((p) => ({
          id: newRowId(),
          workspace_id: input.workspaceId,
          agent_id: p.agentId,
          index_no: indexOf.get(p.agentId) ?? 1,
          activation_id: activationId,
          store_path: p.storePath,
          rollback_script: p.rollbackScript,
          rollback_scripts: p.rollbackScripts ? scriptsOf(p.rollbackScripts) : null,
          activation_timeout_ms: p.deadlines?.activationTimeoutMs ?? null,
          confirm_timeout_ms: p.deadlines?.confirmTimeoutMs ?? null,
          wave: p.wave ?? null,
          rollout_from: p.rolloutFrom ?? null,
          status: input.queued ? 'Queued' : 'Pending',
          reason: null,
          created_at: now,
          started_at: null,
          finished_at: null,
          closure_size: null,
          created_by: createdBy,
          created_by_label: createdByLabel,
          dry: p.dry ? 1 : 0,
          would_restart: null,
          secrets_only: p.secretsOnly ? 1 : 0,
        }));
        await insertDeployments(tx, values);
        rows.push(...(values as DeploymentRow[]));
      }
      await input.within?.(tx, activationId);
    }),
  );
  return { activationId, rows, superseded };
}

/** A Pending deployment ready to send, before the cache is added (cache/agents.ts says which). */
export interface PendingOrder {
  readonly agentId: string;
  readonly workspaceId: string;
  readonly order: Omit<DeploymentOrder, 'cache'>;
}

/** The rollbackScript for the agent's system, from the whole map kept while the system was unknown. */
function rollbackFor(scripts: string | null, system: string | null): string | null {
  return scripts && system ? (rollbackMap(scripts)[system] ?? null) : null;
}

/** What an order is made of: a deployment's columns (as read, or as just inserted). */
type OrderSource = Pick<
  DeploymentRow,
  'id' | 'index_no' | 'store_path' | 'rollback_script' | 'rollback_scripts' | 'activation_timeout_ms' | 'confirm_timeout_ms' | 'dry' | 'secrets_only'
>;

/**
 * The order an agent is sent for a deployment (without the cache and secrets, added when sent): `system` is the
 * agent's (for a rollbackScript kept by system), `hasDiff` whether the server has its closure diff (a secrets-only
 * deployment never asks for one).
 */
export function orderOf(r: OrderSource, system: string | null, hasDiff: boolean): Omit<DeploymentOrder, 'cache'> {
  return {
    id: r.id,
    index: r.index_no,
    storePath: r.store_path,
    rollbackScript: r.rollback_script ?? rollbackFor(r.rollback_scripts, system),
    ...(r.activation_timeout_ms !== null ? { activationTimeoutMs: r.activation_timeout_ms } : {}),
    ...(r.confirm_timeout_ms !== null ? { confirmTimeoutMs: r.confirm_timeout_ms } : {}),
    ...(hasDiff || r.secrets_only === 1 ? {} : { wantDiff: true }),
    ...(r.dry === 1 ? { dry: true } : {}),
    ...(r.secrets_only === 1 ? { secretsOnly: true } : {}),
  };
}

/** The newest order per agent among these rows. */
function newestPerAgent(rows: readonly OrderRow[], into: Map<string, PendingOrder>): void {
  for (const r of rows) {
    const seen = into.get(r.agent_id);
    if (seen && seen.order.index >= r.index_no) continue;
    into.set(r.agent_id, { agentId: r.agent_id, workspaceId: r.workspace_id, order: orderOf(r, r.system, r.diff_pair !== null) });
  }
}

/** The newest Pending deployment of each of these agents (on hello, after an outcome, on resync). A read: nothing is written. */
export async function newestPendingOrders(db: Kysely<Database>, agentIds: readonly string[]): Promise<Map<string, PendingOrder>> {
  const out = new Map<string, PendingOrder>();
  for (const part of bulkChunks(db, agentIds)) newestPerAgent(await selectOrders(db, { agentIds: part }), out);
  return out;
}

/** These deployments (a 'deploy' event names them), those still Pending, newest per agent. A read: nothing is written. */
export async function pendingOrders(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, PendingOrder>> {
  const out = new Map<string, PendingOrder>();
  for (const part of bulkChunks(db, ids)) newestPerAgent(await selectOrders(db, { ids: part }), out);
  return out;
}

/**
 * The Pending deployments of one activation (a 'deploy' event announcing it whole) for those of these agents it has,
 * newest per agent. When the agents are fewer than the activation's deployments (`deployments`), a chunk of agents at
 * a time through the (agent, status) index — the activation is then a filter, written so that no planner takes it
 * for an index look-up (SQLite, without statistics, would walk the whole activation once per chunk); else the whole
 * activation at once, keeping only these agents'.
 */
export async function pendingOrdersOfActivation(
  db: Kysely<Database>,
  activationId: string,
  agentIds: { readonly size: number; has(id: string): boolean; keys(): IterableIterator<string> },
  deployments: number,
): Promise<Map<string, PendingOrder>> {
  const out = new Map<string, PendingOrder>();
  if (agentIds.size < deployments) {
    for (const part of bulkChunks(db, [...agentIds.keys()])) newestPerAgent(await selectOrders(db, { activationId, agentIds: part }), out);
  } else {
    const ofActivation = await selectOrders(db, { activationId });
    newestPerAgent(
      ofActivation.filter((r) => agentIds.has(r.agent_id)),
      out,
    );
  }
  return out;
}

/**
 * Once an agent says which system it runs, its Pending deployments created
 * before it ever connected get the rollbackScript for that system stored;
 * for several agents at once (hellos that arrived together), one read for all.
 */
export async function resolveRollbackScriptsOf(db: Kysely<Database>, agents: readonly { agentId: string; system: string }[]): Promise<void> {
  const systemOf = new Map<string, string>();
  // Two hellos of one agent: the first one's system, as one call after the other would leave it.
  for (const a of agents) if (!systemOf.has(a.agentId)) systemOf.set(a.agentId, a.system);
  for (const part of chunks([...systemOf.keys()])) {
    const rows = await db
      .selectFrom('deployments')
      .select(['id', 'agent_id', 'rollback_scripts'])
      .where('agent_id', 'in', part)
      .where('status', '=', 'Pending')
      .where('rollback_scripts', 'is not', null)
      .execute();
    for (const r of rows) {
      await db
        .updateTable('deployments')
        .set({ rollback_script: rollbackFor(r.rollback_scripts, systemOf.get(r.agent_id) ?? null), rollback_scripts: null })
        .where('id', '=', r.id)
        .where('status', '=', 'Pending')
        .execute();
    }
  }
}

/** The status of a deployment of this agent, if it has it. */
export async function deploymentStatus(db: Kysely<Database>, agentId: string, id: string): Promise<DeploymentRow['status'] | undefined> {
  return (await db.selectFrom('deployments').select('status').where('id', '=', id).where('agent_id', '=', agentId).executeTakeFirst())?.status;
}

/** Pending → InProgress. False when the deployment is no longer Pending (cancelled, superseded, replayed). */
export async function markStarted(db: Kysely<Database>, agentId: string, id: string, time: string): Promise<boolean> {
  const r = await db
    .updateTable('deployments')
    .set({ status: 'InProgress', started_at: time })
    .where('id', '=', id)
    .where('agent_id', '=', agentId)
    .where('status', '=', 'Pending')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function setClosureSize(db: Kysely<Database>, agentId: string, id: string, size: number): Promise<void> {
  await db.updateTable('deployments').set({ closure_size: size }).where('id', '=', id).where('agent_id', '=', agentId).execute();
}

/** Stores a dry run's finding (only on this agent's dry runs; a replay writes the same). */
export async function setWouldRestart(db: Kysely<Database>, agentId: string, id: string, units: WouldRestart | null): Promise<void> {
  await db
    .updateTable('deployments')
    .set({ would_restart: storedWouldRestart(units) })
    .where('id', '=', id)
    .where('agent_id', '=', agentId)
    .where('dry', '=', 1)
    .execute();
}

/** How many bytes of log text a deployment stores by default (DROVER_MAX_LOG_BYTES). */
export const DEFAULT_MAX_LOG_BYTES = 64 * 1024 * 1024;

/** The line stored in place of the first one past the limit. */
function logCutText(bytes: number, maxBytes: number): string {
  return `drover: the log was cut at ${bytes} bytes (the server keeps at most ${maxBytes} bytes per deployment, DROVER_MAX_LOG_BYTES); later lines are dropped`;
}

/**
 * Which of these new lines fit under the limit, in seq order. The first line
 * past it is replaced by one saying where the log was cut (same seq), and
 * every later line is dropped.
 */
function fitUnderLimit(lines: readonly LogLine[], stored: number, maxBytes: number): { keep: LogLine[]; bytes: number; cutSeq: number | null } {
  const keep: LogLine[] = [];
  let bytes = stored;
  for (const line of [...lines].sort((a, b) => a.seq - b.seq)) {
    const size = Buffer.byteLength(line.text, 'utf8');
    if (bytes + size > maxBytes) {
      keep.push({ seq: line.seq, time: line.time, stream: 'agent', text: logCutText(bytes, maxBytes) });
      return { keep, bytes, cutSeq: line.seq };
    }
    bytes += size;
    keep.push(line);
  }
  return { keep, bytes, cutSeq: null };
}

/**
 * Stores log lines; a line already stored (same seq, replayed after a
 * reconnect) is skipped. A deployment stores at most `maxBytes` of log text:
 * the line that would pass it becomes the line saying the log was cut, and
 * later lines are dropped (the outcome is still recorded by markFinished).
 * False when the deployment is not this agent's.
 */
export async function appendLog(
  db: Kysely<Database>,
  agentId: string,
  id: string,
  lines: readonly LogLine[],
  maxBytes = DEFAULT_MAX_LOG_BYTES,
): Promise<boolean> {
  const owned = await db.selectFrom('deployments').select('id').where('id', '=', id).where('agent_id', '=', agentId).executeTakeFirst();
  if (!owned) return false;
  if (lines.length === 0) return true;
  await db.transaction().execute(async (tx) => {
    const size = await tx.selectFrom('deployment_log_sizes').select(['bytes', 'cut_seq']).where('deployment_id', '=', id).executeTakeFirst();
    if (size && size.cut_seq !== null) return;
    const seqs = lines.map((l) => l.seq);
    const already = await tx.selectFrom('deployment_logs').select('seq').where('deployment_id', '=', id).where('seq', 'in', seqs).execute();
    const known = new Set(already.map((r) => r.seq));
    const fresh = lines.filter((l) => !known.has(l.seq));
    if (fresh.length === 0) return;
    const { keep, bytes, cutSeq } = fitUnderLimit(fresh, size?.bytes ?? 0, maxBytes);
    await tx
      .insertInto('deployment_logs')
      .values(keep.map((l) => ({ deployment_id: id, seq: l.seq, time: l.time, stream: l.stream, text: l.text })))
      .onConflict((oc) => oc.columns(['deployment_id', 'seq']).doNothing())
      .execute();
    await tx
      .insertInto('deployment_log_sizes')
      .values({ deployment_id: id, bytes, cut_seq: cutSeq })
      .onConflict((oc) => oc.column('deployment_id').doUpdateSet({ bytes, cut_seq: cutSeq }))
      .execute();
  });
  return true;
}

/** What recording an agent's outcome did: stored it, stored it over an operator's end, or nothing (a replay, a final state). */
export type FinishRecorded = 'recorded' | 'replaced-operator-end' | null;

/**
 * Records an agent's outcome. Succeeded/Failed is the truth about the
 * machine and overrides Pending, InProgress, Cancelled or Superseded (the
 * agent may have acted before it heard of a cancel); a reported Cancelled
 * only ends a deployment that was still open. Any report also replaces the
 * Failed an operator set by hand (`endByOperator`): its `finished_at` is
 * still the operator's `ended_at` until the agent's report lands, so that
 * is the guard. Final outcomes are never overwritten, so replays are
 * harmless.
 */
export async function markFinished(db: Kysely<Database>, agentId: string, msg: DeploymentFinishedMessage): Promise<FinishRecorded> {
  const open = msg.status === 'Cancelled' ? (['Pending', 'InProgress'] as const) : (['Pending', 'InProgress', 'Cancelled', 'Superseded'] as const);
  return db.transaction().execute(async (tx) => {
    const record = () =>
      tx
        .updateTable('deployments')
        .set((eb) => ({
          status: msg.status,
          reason: msg.reason,
          finished_at: msg.time,
          started_at: eb.fn.coalesce('started_at', eb.val(msg.time)),
        }))
        .where('id', '=', msg.id)
        .where('agent_id', '=', agentId);
    let outcome: FinishRecorded = null;
    if (Number((await record().where('status', 'in', open).executeTakeFirst()).numUpdatedRows) > 0) outcome = 'recorded';
    else {
      const replaced = await record()
        .where('status', '=', 'Failed')
        .where('ended_at', 'is not', null)
        .whereRef('finished_at', '=', 'ended_at')
        .executeTakeFirst();
      if (Number(replaced.numUpdatedRows) > 0) outcome = 'replaced-operator-end';
    }
    if (outcome && msg.activePath) {
      // A dry run never changes what the server says the agent runs.
      await tx
        .updateTable('agents')
        .set({ current_store_path: msg.activePath })
        .where('id', '=', agentId)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('deployments').select('id').where('id', '=', msg.id).where('dry', '=', 1))))
        .execute();
    }
    return outcome;
  });
}

/**
 * An operator ends an InProgress deployment whose agent never reported:
 * InProgress → Failed in one guarded UPDATE, recording who, why and when.
 * The agent's own report, if it ever comes, replaces the Failed
 * (`markFinished`).
 */
export async function endByOperator(db: Kysely<Database>, workspaceId: string, id: string, by: Actor, why: string): Promise<DeploymentView> {
  const current = await getDeployment(db, workspaceId, id);
  const now = nowIso();
  const r = await db
    .updateTable('deployments')
    .set({
      status: 'Failed',
      reason: `ended by ${by.label} while InProgress (the agent never reported): ${why}`,
      finished_at: now,
      ended_by: storedActor(by),
      ended_by_label: by.label,
      ended_reason: why,
      ended_at: now,
    })
    .where('id', '=', current.id)
    .where('status', '=', 'InProgress')
    .executeTakeFirst();
  const after = await getDeployment(db, workspaceId, id);
  if (Number(r.numUpdatedRows) === 0) {
    throw new DroverError('DROVER_ERR_NOT_IN_PROGRESS', `deployment ${id} is ${after.status}; only an InProgress deployment can be ended by an operator`);
  }
  return after;
}

/**
 * A user's cancel. Pending becomes Cancelled here and now. InProgress stays
 * as it is: only the agent knows whether activation has begun, so it is asked
 * to stop (`requested`) and reports Cancelled — or, once activation started,
 * finishes and reports the real outcome.
 */
export async function cancelDeployment(db: Kysely<Database>, workspaceId: string, id: string, by: Actor): Promise<{ row: DeploymentView; requested: boolean }> {
  const current = await getDeployment(db, workspaceId, id);
  const r = await db
    .updateTable('deployments')
    .set({ status: 'Cancelled', finished_at: nowIso(), reason: `cancelled by ${by.label} before it started` })
    .where('id', '=', current.id)
    .where('status', 'in', ['Pending', 'Queued'])
    .executeTakeFirst();
  const now = await getDeployment(db, workspaceId, id);
  if (Number(r.numUpdatedRows) > 0) return { row: now, requested: false };
  if (now.status === 'InProgress') return { row: now, requested: true };
  throw new DroverError('DROVER_ERR_NOT_CANCELLABLE', `deployment ${id} is ${now.status}; only Queued, Pending and InProgress deployments can be cancelled`);
}

/** The deployment a re-run repeats: same agent, store path and rollbackScript. Only finished ones are re-run. */
export function rerunPlan(row: DeploymentView): PlannedDeployment {
  if (row.status === 'Pending' || row.status === 'InProgress' || row.status === 'Queued') {
    throw new DroverError('DROVER_ERR_NOT_FINISHED', `deployment ${row.id} is ${row.status}; re-run it once it has finished`);
  }
  if (!isStorePath(row.store_path)) throw new DroverError('DROVER_ERR_INTERNAL', `deployment ${row.id} holds an invalid store path`);
  const rollback = row.rollback_script;
  return {
    agentId: row.agent_id,
    storePath: row.store_path,
    rollbackScript: rollback !== null && isStorePath(rollback) ? rollback : null,
    rollbackScripts: row.rollback_scripts ? rollbackMap(row.rollback_scripts) : null,
    deadlines: { activationTimeoutMs: row.activation_timeout_ms, confirmTimeoutMs: row.confirm_timeout_ms },
    dry: row.dry === 1,
    secretsOnly: row.secrets_only === 1,
  };
}

/** The stored map of rollback scripts by system (strings only). */
function rollbackMap(json: string): Record<string, string> {
  const parsed: unknown = JSON.parse(json);
  const out: Record<string, string> = {};
  if (typeof parsed !== 'object' || parsed === null) return out;
  for (const [system, script] of Object.entries(parsed)) if (typeof script === 'string') out[system] = script;
  return out;
}

/** The newest deployment of an agent that put this path in place, whose rollbackScript a re-deploy reuses. */
export async function latestDeploymentOfPath(db: Kysely<Database>, agentId: string, storePath: string): Promise<DeploymentView | undefined> {
  return selectViews(db)
    .where('deployments.agent_id', '=', agentId)
    .where('deployments.store_path', '=', storePath)
    .orderBy('deployments.index_no', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export async function getDeployment(db: Kysely<Database>, workspaceId: string, id: string): Promise<DeploymentView> {
  const row = isUuid(id)
    ? await selectViews(db).where('deployments.id', '=', id).where('deployments.workspace_id', '=', workspaceId).executeTakeFirst()
    : undefined;
  if (!row) throw new DroverError('DROVER_ERR_DEPLOYMENT_NOT_FOUND', `deployment ${JSON.stringify(id)} does not exist in this workspace`);
  return row;
}

export async function getDeployments(db: Kysely<Database>, ids: readonly string[]): Promise<DeploymentView[]> {
  const out: DeploymentView[] = [];
  for (const part of chunks(ids)) out.push(...(await selectViews(db).where('deployments.id', 'in', part).execute()));
  return out;
}

export async function activationDeployments(db: Kysely<Database>, workspaceId: string, activationId: string): Promise<DeploymentView[]> {
  return selectViews(db).where('deployments.activation_id', '=', activationId).where('deployments.workspace_id', '=', workspaceId).execute();
}

export interface DeploymentFilter {
  readonly agentName?: string | undefined;
  /** Agents whose name contains this (case-insensitive). */
  readonly agentContains?: string | undefined;
  /** Store paths that contain this (case-insensitive): a hash prefix, a name, a whole path. */
  readonly pathContains?: string | undefined;
  readonly status?: DeploymentRow['status'] | undefined;
  readonly limit: number;
  readonly offset?: number | undefined;
}

/** `column` contains `part`, case-insensitively, on SQLite and PostgreSQL alike (LIKE with % and _ escaped). */
function containsFilter(column: 'agents.name' | 'deployments.store_path', part: string) {
  const pattern = `%${part.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  return sql<boolean>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`;
}

/** One page of a workspace's deployments, newest first, and how many match in all. */
export async function listDeployments(db: Kysely<Database>, workspaceId: string, filter: DeploymentFilter): Promise<{ rows: DeploymentView[]; total: number }> {
  let q = selectViews(db).where('deployments.workspace_id', '=', workspaceId);
  let count = db
    .selectFrom('deployments')
    .innerJoin('agents', 'agents.id', 'deployments.agent_id')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('deployments.workspace_id', '=', workspaceId);
  if (filter.agentName) {
    q = q.where('agents.name', '=', filter.agentName);
    count = count.where('agents.name', '=', filter.agentName);
  }
  if (filter.status) {
    q = q.where('deployments.status', '=', filter.status);
    count = count.where('deployments.status', '=', filter.status);
  }
  for (const [column, part] of [
    ['agents.name', filter.agentContains],
    ['deployments.store_path', filter.pathContains],
  ] as const) {
    if (!part) continue;
    q = q.where(containsFilter(column, part));
    count = count.where(containsFilter(column, part));
  }
  const rows = await q
    .orderBy('deployments.created_at', 'desc')
    .orderBy('deployments.index_no', 'desc')
    .limit(filter.limit)
    .offset(filter.offset ?? 0)
    .execute();
  const { n } = await count.executeTakeFirstOrThrow();
  return { rows, total: Number(n) };
}

/** The highest stored log `seq` of each deployment that has any lines (one query per chunk). */
export async function logHeads(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, number>> {
  const heads = new Map<string, number>();
  for (const part of chunks(ids)) {
    const rows = await db
      .selectFrom('deployment_logs')
      .select(['deployment_id', (eb) => eb.fn.max('seq').as('head')])
      .where('deployment_id', 'in', part)
      .groupBy('deployment_id')
      .execute();
    for (const r of rows) heads.set(r.deployment_id, r.head);
  }
  return heads;
}

export async function readLog(db: Kysely<Database>, id: string, afterSeq: number, limit = 5000): Promise<LogLineJson[]> {
  const rows = await db
    .selectFrom('deployment_logs')
    .select(['seq', 'time', 'stream', 'text'])
    .where('deployment_id', '=', id)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map(toLogLineJson);
}

function toLogLineJson(r: { seq: number; time: string; stream: LogLineJson['stream']; text: string }): LogLineJson {
  return { seq: r.seq, time: r.time, stream: r.stream, text: r.text };
}

/** The most lines one page of the JSON log holds (`?limit=`). */
export const MAX_LOG_PAGE_LINES = 5000;

/** Where a page of a log starts: after a seq (forward), or before one / at the end (backward, the newest lines first fetched). */
export type LogPageFrom = { readonly after: number } | { readonly before: number | null };

export interface LogPage {
  /** In seq order. */
  readonly lines: LogLineJson[];
  /** Pass as `after` for the lines that follow, or null when none is stored yet. */
  readonly next: number | null;
  /** Pass as `before` for the lines that precede, or null when there are none. */
  readonly previous: number | null;
}

async function hasLine(db: Kysely<Database>, id: string, op: '<' | '>', seq: number): Promise<boolean> {
  const row = await db.selectFrom('deployment_logs').select('seq').where('deployment_id', '=', id).where('seq', op, seq).limit(1).executeTakeFirst();
  return row !== undefined;
}

/** One page of a deployment's log, with the cursors of the pages around it: no page is ever bigger than `limit` lines. */
export async function readLogPage(db: Kysely<Database>, id: string, from: LogPageFrom, limit: number): Promise<LogPage> {
  let q = db.selectFrom('deployment_logs').select(['seq', 'time', 'stream', 'text']).where('deployment_id', '=', id);
  if ('after' in from) {
    const rows = (
      await q
        .where('seq', '>', from.after)
        .orderBy('seq')
        .limit(limit + 1)
        .execute()
    ).map(toLogLineJson);
    const lines = rows.slice(0, limit);
    const first = lines[0]?.seq ?? from.after + 1;
    return {
      lines,
      next: rows.length > limit ? (lines.at(-1)?.seq ?? null) : null,
      previous: (await hasLine(db, id, '<', first)) ? first : null,
    };
  }
  if (from.before !== null) q = q.where('seq', '<', from.before);
  const rows = (
    await q
      .orderBy('seq', 'desc')
      .limit(limit + 1)
      .execute()
  ).map(toLogLineJson);
  const lines = rows.slice(0, limit).reverse();
  const last = lines.at(-1)?.seq ?? (from.before === null ? null : from.before - 1);
  return {
    lines,
    next: last !== null && (await hasLine(db, id, '>', last)) ? last : null,
    previous: rows.length > limit ? (lines[0]?.seq ?? null) : null,
  };
}

/** A deployment as a GC root of its workspace's caches. */
export interface DeployedPaths {
  readonly agent: string;
  readonly index: number;
  readonly status: 'Queued' | 'Pending' | 'InProgress' | 'Succeeded';
  readonly storePath: string;
  readonly rollbackScript: string | null;
}

/** The workspace's Queued, Pending, InProgress and Succeeded deployments, by agent name and newest first. */
export async function deployedPaths(db: Kysely<Database>, workspaceId: string): Promise<DeployedPaths[]> {
  const rows = await db
    .selectFrom('deployments')
    .innerJoin('agents', 'agents.id', 'deployments.agent_id')
    .select(['agents.name', 'deployments.store_path', 'deployments.rollback_script', 'deployments.status', 'deployments.index_no'])
    .where('deployments.workspace_id', '=', workspaceId)
    .where('deployments.status', 'in', ['Queued', 'Pending', 'InProgress', 'Succeeded'])
    // A finished dry run put nothing on the machine: it keeps no rollback target alive.
    .where((eb) => eb.or([eb('deployments.dry', '=', 0), eb('deployments.status', '!=', 'Succeeded')]))
    .orderBy('agents.name')
    .orderBy('deployments.index_no', 'desc')
    .execute();
  return rows.flatMap((r) =>
    r.status === 'Queued' || r.status === 'Pending' || r.status === 'InProgress' || r.status === 'Succeeded'
      ? [{ agent: r.name, index: r.index_no, status: r.status, storePath: r.store_path, rollbackScript: r.rollback_script }]
      : [],
  );
}

/** Which of these agents have a deployment InProgress (the Cachix re-send waits while one runs). */
export async function agentsWithInProgress(db: Kysely<Database>, agentIds: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const part of chunks(agentIds)) {
    const rows = await db.selectFrom('deployments').select('agent_id').where('agent_id', 'in', part).where('status', '=', 'InProgress').execute();
    for (const r of rows) out.add(r.agent_id);
  }
  return out;
}
