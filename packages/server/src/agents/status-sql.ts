/**
 * The agents list's status filters as SQL conditions over an agent (`agents`),
 * its batched pong (`p`) and its latest deployment (`d`): the same condition
 * filters the list and counts the fleet overview, so the two cannot disagree.
 */
import { sql, type RawBuilder } from 'kysely';
import type { AgentStatusFilter } from '@drover/protocol';
import type { Presence } from './repository.js';

/** Online exactly as isOnline() says: connected and seen within the window. */
function onlineSql(presence: Presence, now = Date.now()): RawBuilder<boolean> {
  const cutoff = new Date(now - presence.onlineWindowMs).toISOString();
  return sql<boolean>`(${sql.ref('agents.connection_id')} is not null and (${sql.ref('agents.last_seen_at')} >= ${cutoff} or ${sql.ref('p.last_seen_at')} >= ${cutoff}))`;
}

/** Latest deployment statuses per filter; `pending` includes a rollout's Queued ones (not yet released to the agent). */
const latestStatuses: Partial<Record<AgentStatusFilter, readonly string[]>> = {
  succeeded: ['Succeeded'],
  failed: ['Failed'],
  pending: ['Pending', 'Queued'],
  inprogress: ['InProgress'],
};

export function agentStatusSql(status: AgentStatusFilter, presence: Presence): RawBuilder<boolean> {
  switch (status) {
    case 'online':
      return onlineSql(presence);
    case 'offline':
      return sql<boolean>`not ${onlineSql(presence)}`;
    case 'behind':
      // The latest deployment's path is not what the agent runs: not there yet, or it rolled back.
      return sql<boolean>`(${sql.ref('d.id')} is not null and (${sql.ref('agents.current_store_path')} is null or ${sql.ref('d.store_path')} <> ${sql.ref('agents.current_store_path')}))`;
    default:
      return sql<boolean>`${sql.ref('d.status')} in (${sql.join((latestStatuses[status] ?? []).map((s) => sql.lit(s)))})`;
  }
}

/** How many rows the condition holds for (PostgreSQL answers a bigint as a string). */
export function countWhen(condition: RawBuilder<boolean>): RawBuilder<string | number> {
  return sql<string | number>`coalesce(sum(case when ${condition} then 1 else 0 end), 0)`;
}
