/** What the usage API and /metrics show: months newest first with agent-hours, the current month always present. */
import type { Kysely } from 'kysely';
import { Gauge, type Registry } from 'prom-client';
import type { Usage, UsageMonth } from '@drover/protocol';
import type { Database } from '../db/schema.js';
import { currentMonthOfAll, monthOf, usageMonths } from './repository.js';
import type { UsageMonthsTable } from './tables.js';

/** Agent-hours of stored agent-milliseconds, to 4 decimals. */
function hours(ms: number): number {
  return Math.round((ms / 3_600_000) * 10_000) / 10_000;
}

function toMonthApi(row: UsageMonthsTable): UsageMonth {
  return { month: row.month, peakAgents: row.peak_agents, peakAt: row.peak_at, agentHours: hours(row.agent_ms) };
}

export async function workspaceUsage(db: Kysely<Database>, workspace: { id: string; name: string }, months: number): Promise<Usage> {
  const rows = (await usageMonths(db, workspace.id, months)).map(toMonthApi);
  const current = monthOf(Date.now());
  if (rows[0]?.month !== current) rows.unshift({ month: current, peakAgents: 0, peakAt: null, agentHours: 0 });
  return { workspace: workspace.name, months: rows.slice(0, months) };
}

/**
 * The current month's usage per workspace as gauges, read from the database
 * at scrape time. Every replica answers the same (the figures are global);
 * with --workers, `aggregator: 'max'` keeps one copy rather than a sum.
 */
export function registerUsageMetrics(registry: Registry, db: Kysely<Database>): void {
  const read = async () => currentMonthOfAll(db, monthOf(Date.now()));
  new Gauge({
    name: 'drover_usage_peak_agents',
    help: 'Most agents connected at once this month (UTC), per workspace',
    labelNames: ['workspace'] as const,
    registers: [registry],
    aggregator: 'max',
    async collect() {
      this.reset();
      for (const r of await read()) this.set({ workspace: r.name }, r.peak_agents);
    },
  });
  new Gauge({
    name: 'drover_usage_agent_hours',
    help: 'Connected agent-hours this month (UTC), per workspace',
    labelNames: ['workspace'] as const,
    registers: [registry],
    aggregator: 'max',
    async collect() {
      this.reset();
      for (const r of await read()) this.set({ workspace: r.name }, hours(r.agent_ms));
    },
  });
}
