/**
 * The tables of closure diffs (0012_closure_diffs): `closure_diffs` holds
 * each distinct diff once per workspace, keyed by its pair of paths (so
 * 10,000 agents moving from A to B share one row), and `deployment_diffs`
 * says which diff belongs to which deployment.
 */

export interface ClosureDiffsTable {
  workspace_id: string;
  /** `FROM TO` (FROM is `-` when the agent ran nothing). */
  pair: string;
  /** The ClosureDiff as JSON. */
  body: string;
  created_at: string;
}

export interface DeploymentDiffsTable {
  deployment_id: string;
  workspace_id: string;
  pair: string;
  created_at: string;
}
