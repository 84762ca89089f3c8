/**
 * The deployments side of staged rollouts (rollouts/engine.ts drives them):
 * per-wave counts, Queued → Pending releases, Queued → Held, and the reads
 * a rollout needs. Each is one statement per call (or per chunk of ids),
 * never one per agent, and every transition is guarded by the status it
 * leaves, so replicas racing on the same rollout cannot move a deployment
 * twice.
 */
import type { Kysely } from 'kysely';
import type { DeploymentStatus } from '@drover/protocol';
import { chunks } from '../db/chunks.js';
import type { Database } from '../db/schema.js';
import { nowIso } from '../db/time.js';

export interface WaveCount {
  readonly wave: number;
  readonly status: DeploymentStatus;
  readonly n: number;
}

/** How many deployments of the activation each wave has in each status (one grouped read). */
export async function waveCounts(db: Kysely<Database>, activationId: string): Promise<WaveCount[]> {
  const rows = await db
    .selectFrom('deployments')
    .select(['wave', 'status', (eb) => eb.fn.countAll().as('n')])
    .where('activation_id', '=', activationId)
    .groupBy(['wave', 'status'])
    .execute();
  return rows.map((r) => ({ wave: r.wave ?? 0, status: r.status, n: Number(r.n) }));
}

/** Queued → Pending for up to `limit` deployments of one wave, in agent name order; returns those released. */
export async function releaseQueued(db: Kysely<Database>, activationId: string, wave: number, limit: number): Promise<{ id: string; agentId: string }[]> {
  if (limit <= 0) return [];
  const next = db
    .selectFrom('deployments')
    .innerJoin('agents', 'agents.id', 'deployments.agent_id')
    .select('deployments.id')
    .where('deployments.activation_id', '=', activationId)
    .where('deployments.wave', '=', wave)
    .where('deployments.status', '=', 'Queued')
    .orderBy('agents.name')
    .limit(limit);
  const rows = await db
    .updateTable('deployments')
    .set({ status: 'Pending' })
    .where('id', 'in', next)
    .where('status', '=', 'Queued')
    .returning(['id', 'agent_id'])
    .execute();
  return rows.map((r) => ({ id: r.id, agentId: r.agent_id }));
}

/** Every still Queued deployment of the activation → Held (final, never started), with why; returns their ids. */
export async function holdQueued(db: Kysely<Database>, activationId: string, reason: string): Promise<string[]> {
  const rows = await db
    .updateTable('deployments')
    .set({ status: 'Held', reason, finished_at: nowIso() })
    .where('activation_id', '=', activationId)
    .where('status', '=', 'Queued')
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

/** The activations (of staged rollouts) these deployments belong to. */
export async function rolloutActivationsOf(db: Kysely<Database>, deploymentIds: readonly string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const part of chunks(deploymentIds)) {
    const rows = await db.selectFrom('deployments').select('activation_id').distinct().where('id', 'in', part).where('wave', 'is not', null).execute();
    for (const r of rows) out.add(r.activation_id);
  }
  return [...out];
}

/** The store path of each agent's latest deployment (its `last_index`), for agents that have one. */
export async function latestPaths(db: Kysely<Database>, agentIds: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const part of chunks(agentIds)) {
    const rows = await db
      .selectFrom('deployments')
      .innerJoin('agents', (join) => join.onRef('agents.id', '=', 'deployments.agent_id').onRef('agents.last_index', '=', 'deployments.index_no'))
      .select(['deployments.agent_id', 'deployments.store_path'])
      .where('deployments.agent_id', 'in', part)
      .execute();
    for (const r of rows) out.set(r.agent_id, r.store_path);
  }
  return out;
}

/** The agents a rollback returns: those whose deployment in the activation Succeeded, the path they came from, and its rollbackScript. */
export async function succeededWithOrigin(
  db: Kysely<Database>,
  activationId: string,
): Promise<{ agentId: string; from: string | null; rollbackScript: string | null }[]> {
  const rows = await db
    .selectFrom('deployments')
    .select(['agent_id', 'rollout_from', 'rollback_script'])
    .where('activation_id', '=', activationId)
    .where('status', '=', 'Succeeded')
    .execute();
  return rows.map((r) => ({ agentId: r.agent_id, from: r.rollout_from, rollbackScript: r.rollback_script }));
}
