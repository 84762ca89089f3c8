/**
 * Deployment states and the rules between them.
 *
 *     Queued ──► Pending ──► InProgress ──► Succeeded | Failed
 *        │          │
 *        │          ├──► Superseded   (a newer deployment for the same agent arrived first)
 *        │          └──► Cancelled    (cancelled by a user before the agent started it)
 *        ├──► Held   (a staged rollout stopped or was aborted before its wave ran)
 *        └──► Superseded | Cancelled
 *
 * Queued deployments belong to a staged rollout (rollout.ts): they wait for
 * their wave or a free maxParallel slot and are never handed to an agent.
 */

export const DEPLOYMENT_STATUSES = ['Queued', 'Pending', 'InProgress', 'Succeeded', 'Failed', 'Cancelled', 'Superseded', 'Held'] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

export const FINAL_STATUSES: readonly DeploymentStatus[] = ['Succeeded', 'Failed', 'Cancelled', 'Superseded', 'Held'];

export function isFinalStatus(status: DeploymentStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** What an agent may report as the end of a deployment it ran. */
export const OUTCOME_STATUSES = ['Succeeded', 'Failed', 'Cancelled'] as const;
export type OutcomeStatus = (typeof OUTCOME_STATUSES)[number];

/** Where a log line came from: the command's stdout/stderr, or the agent itself. */
export const LOG_STREAMS = ['stdout', 'stderr', 'agent'] as const;
export type LogStream = (typeof LOG_STREAMS)[number];
