/** The `rollouts` table (migration 0011): one row per activation, with the state of its staged rollout if it has one. */

export interface RolloutsTable {
  activation_id: string;
  workspace_id: string;
  created_at: string;
  /** JSON of the Actor who activated (null: unknown). */
  created_by: string | null;
  /** The `on` selector that narrowed the spec. */
  selector: string | null;
  /** JSON array of the agent names that were already on their path (no deployment). */
  unchanged: string;
  /** null: not a staged rollout; else running | paused | completed | stopped | aborted. */
  state: 'running' | 'paused' | 'completed' | 'stopped' | 'aborted' | null;
  /** JSON of the RolloutSpec as given. */
  spec: string | null;
  /** The labels of the waves (JSON array of strings). */
  wave_labels: string | null;
  current_wave: number;
  /** When the pause after the current wave ends; null while the wave runs or with no pause. */
  pause_until: string | null;
  /** The failures the rollout tolerates (maxFailures worked out against its agents). */
  allowance: number;
  reason: string | null;
  /** 1 once the rollout stopped with onFailure "rollback" until the rollback deployments are created. */
  rollback_pending: number;
  rollback_activation_id: string | null;
  updated_at: string;
}
