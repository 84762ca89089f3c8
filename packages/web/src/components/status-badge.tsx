/** A deployment status or an agent's presence as a small coloured badge with its word (colour is never the only cue). */
import type { DeploymentStatus } from '../api/protocol.js';

const LABELS: Record<DeploymentStatus, string> = {
  Pending: 'Pending',
  InProgress: 'In progress',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
  Cancelled: 'Cancelled',
  Superseded: 'Superseded',
};

export function StatusBadge({ status }: { status: DeploymentStatus }) {
  return (
    <span class={`badge status-${status.toLowerCase()}`} data-status={status}>
      {LABELS[status]}
    </span>
  );
}

export function PresenceBadge({ online }: { online: boolean }) {
  return (
    <span class={`presence ${online ? 'online' : 'offline'}`} data-presence={online ? 'online' : 'offline'}>
      {online ? 'online' : 'offline'}
    </span>
  );
}
