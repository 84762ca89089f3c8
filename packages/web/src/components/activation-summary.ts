/**
 * What the activation page says about an activation as a whole: the count
 * of its deployments per status (in the order a rollout moves them), its
 * state in one word, whether its rollout is still live, and its
 * deployments grouped per wave.
 */
import type { Rollout } from '../api/activation.js';
import type { ActivationView, Deployment, DeploymentStatus } from '../api/protocol.js';

/** Statuses in the order the page lists their counts. */
const STATUS_ORDER: readonly DeploymentStatus[] = ['Queued', 'Pending', 'InProgress', 'Succeeded', 'Failed', 'Held', 'Cancelled', 'Superseded'];
const UNFINISHED: readonly DeploymentStatus[] = ['Queued', 'Pending', 'InProgress'];

export type Counts = [status: DeploymentStatus, count: number][];

/** The non-zero counts of `rows` per status, in STATUS_ORDER. */
export function countByStatus(rows: readonly Deployment[]): Counts {
  const counts = new Map<DeploymentStatus, number>();
  for (const d of rows) counts.set(d.status, (counts.get(d.status) ?? 0) + 1);
  return STATUS_ORDER.filter((s) => counts.has(s)).map((s) => [s, counts.get(s) ?? 0]);
}

/**
 * The activation's state: a rollout's own (running, paused, completed,
 * stopped, aborted); for a plain activation running while any deployment
 * is unfinished, then succeeded, failed (any Failed) or finished.
 */
export function activationState(view: ActivationView): string {
  const rollout = view.activation.rollout;
  if (rollout) return rollout.state;
  const rows = view.deployments;
  if (rows.some((d) => UNFINISHED.includes(d.status))) return 'running';
  if (rows.every((d) => d.status === 'Succeeded')) return 'succeeded';
  return rows.some((d) => d.status === 'Failed') ? 'failed' : 'finished';
}

/** A rollout that may still release deployments (running or paused): it has buttons and a current wave. */
export function isLive(rollout: Rollout): boolean {
  return rollout.state === 'running' || rollout.state === 'paused';
}

export interface Group {
  /** The wave index, or null for the one group of a plain activation. */
  index: number | null;
  label: string;
  state: string | null;
  rows: Deployment[];
}

/** Rows per wave (in wave order, agents by name); a plain activation is one group. */
export function groupByWave(view: ActivationView): Group[] {
  const rows = [...view.deployments].sort((a, b) => (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0));
  const waves = view.activation.rollout?.waves ?? [];
  if (waves.length === 0) return [{ index: null, label: 'All agents', state: null, rows }];
  const groups: Group[] = waves.map((w) => ({ index: w.index, label: w.label, state: w.state, rows: rows.filter((d) => d.wave === w.index) }));
  const known = new Set(waves.map((w) => w.index));
  const rest = rows.filter((d) => d.wave === null || !known.has(d.wave));
  if (rest.length > 0) groups.push({ index: null, label: 'Outside the waves', state: null, rows: rest });
  return groups;
}
