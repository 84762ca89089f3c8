/** A deployment status or an agent's presence as a small coloured badge with its word (colour is never the only cue). */
import { agentPresence } from '@drover/client';
import type { Agent, DeploymentStatus } from '../api/protocol.js';

const LABELS: Record<DeploymentStatus, string> = {
  Queued: 'Queued',
  Pending: 'Pending',
  InProgress: 'In progress',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
  Cancelled: 'Cancelled',
  Superseded: 'Superseded',
  Held: 'Held',
};

export function StatusBadge({ status }: { status: DeploymentStatus }) {
  return (
    <span class={`badge status-${status.toLowerCase()}`} data-status={status}>
      {LABELS[status]}
    </span>
  );
}

/** Online, "cannot deploy" (connected, its self-checks failed; the reason is the title and AgentNotes) or offline. */
export function PresenceBadge({ agent }: { agent: Pick<Agent, 'online' | 'problems'> }) {
  const presence = agentPresence(agent);
  const key = presence === 'cannot deploy' ? 'cannot-deploy' : presence;
  return (
    <span class={`presence ${key}`} data-presence={key} title={presence === 'cannot deploy' ? agent.problems.join('\n') : undefined}>
      {presence}
    </span>
  );
}
