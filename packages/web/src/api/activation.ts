/**
 * The activation view the UI reads from GET …/activations/:id: the
 * deployments of one activate call and, from servers that run rollouts,
 * `activation` (counts, unchanged agents, the rollout's waves and state).
 * An answer without `activation` is a plain activation: one group, no
 * rollout. Shapes as BRIEF's contract gives them.
 */
import type { Deployment, DeploymentStatus } from './protocol.js';

/** The statuses a rollout adds (Queued: waits for its wave; Held: never started because the rollout stopped). */
export type RowStatus = DeploymentStatus | 'Queued' | 'Held';

type RolloutState = 'running' | 'paused' | 'completed' | 'stopped' | 'aborted';
type WaveState = 'waiting' | 'running' | 'pausing' | 'succeeded' | 'failed' | 'held';

interface RolloutWave {
  index: number;
  label: string;
  agents: number;
  counts: Partial<Record<RowStatus, number>>;
  state: WaveState;
}

export interface Rollout {
  state: RolloutState;
  waves: RolloutWave[];
  currentWave: number | null;
  maxParallel: number | null;
  maxFailures: number | string | null;
  failures: number;
  pause: number | null;
  onFailure: string;
  reason: string | null;
}

export interface ActivationInfo {
  id: string;
  createdAt: string;
  createdBy: Deployment['createdBy'];
  selector: string | null;
  counts: Partial<Record<RowStatus, number>>;
  unchanged: string[];
  rollout: Rollout | null;
}

/** A deployment as the activation page shows it (its wave once the server says). */
export type ActivationDeployment = Deployment & { wave?: number | null };

export interface ActivationView {
  deployments: ActivationDeployment[];
  activation?: ActivationInfo;
}
