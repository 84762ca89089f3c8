/**
 * The usage table: counting the agents online per workspace (the agents
 * list's own online rule), raising a month's peak (a conditional upsert:
 * replicas racing keep the highest), adding one sample slot of agent time
 * exactly once (a compare-and-set on `last_slot`), and reading months back.
 */
import type { Kysely } from 'kysely';
import type { Presence } from '../agents/repository.js';
import { agentStatusSql } from '../agents/status-sql.js';
import type { Database } from '../db/schema.js';
import { nowIso } from '../db/time.js';
import type { UsageMonthsTable } from './tables.js';

/** `YYYY-MM` of a time, UTC. */
export function monthOf(time: number): string {
  return new Date(time).toISOString().slice(0, 7);
}

/** Agents online now per workspace (only workspaces with one or more), optionally only these workspaces. */
export async function onlineCounts(db: Kysely<Database>, presence: Presence, workspaceIds?: readonly string[]): Promise<Map<string, number>> {
  let q = db
    .selectFrom('agents')
    .leftJoin('agent_presence as p', 'p.agent_id', 'agents.id')
    .select(['agents.workspace_id'])
    .select((eb) => eb.fn.countAll<string | number>().as('n'))
    .where('agents.removed_at', 'is', null)
    .where(agentStatusSql('online', presence));
  if (workspaceIds) {
    if (workspaceIds.length === 0) return new Map();
    q = q.where('agents.workspace_id', 'in', workspaceIds);
  }
  const rows = await q.groupBy('agents.workspace_id').execute();
  return new Map(rows.map((r) => [r.workspace_id, Number(r.n)]));
}

/** Raises the month's peak to `agents` if it is higher (at `at`). */
export async function raisePeak(db: Kysely<Database>, workspaceId: string, month: string, agents: number, at: string): Promise<void> {
  await db
    .insertInto('usage_months')
    .values({ workspace_id: workspaceId, month, peak_agents: agents, peak_at: at, agent_ms: 0, last_slot: 0, updated_at: at })
    .onConflict((oc) =>
      oc
        .columns(['workspace_id', 'month'])
        .doUpdateSet((eb) => ({ peak_agents: eb.ref('excluded.peak_agents'), peak_at: eb.ref('excluded.peak_at'), updated_at: eb.ref('excluded.updated_at') }))
        .where('usage_months.peak_agents', '<', (eb) => eb.ref('excluded.peak_agents')),
    )
    .execute();
}

/** Adds `agentMs` for sample slot `slot` unless some replica added that slot already; true when this call did. */
export async function addSlot(db: Kysely<Database>, workspaceId: string, month: string, slot: number, agentMs: number): Promise<boolean> {
  const now = nowIso();
  await db
    .insertInto('usage_months')
    .values({ workspace_id: workspaceId, month, peak_agents: 0, peak_at: null, agent_ms: 0, last_slot: 0, updated_at: now })
    .onConflict((oc) => oc.columns(['workspace_id', 'month']).doNothing())
    .execute();
  const r = await db
    .updateTable('usage_months')
    .set((eb) => ({ agent_ms: eb('agent_ms', '+', agentMs), last_slot: slot, updated_at: now }))
    .where('workspace_id', '=', workspaceId)
    .where('month', '=', month)
    .where('last_slot', '<', slot)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function usageMonths(db: Kysely<Database>, workspaceId: string, limit: number): Promise<UsageMonthsTable[]> {
  return db.selectFrom('usage_months').selectAll().where('workspace_id', '=', workspaceId).orderBy('month', 'desc').limit(limit).execute();
}

/** This month's row of every workspace, with its name (for /metrics). */
export async function currentMonthOfAll(db: Kysely<Database>, month: string): Promise<(UsageMonthsTable & { name: string })[]> {
  return db
    .selectFrom('usage_months')
    .innerJoin('workspaces', 'workspaces.id', 'usage_months.workspace_id')
    .selectAll('usage_months')
    .select('workspaces.name')
    .where('month', '=', month)
    .execute();
}
