/** An agent's labels as small `key=value` chips; admin-set ones marked (their title says so). */
import type { Labels } from '../api/protocol.js';

export function LabelChips({ labels, admin }: { labels: Labels; admin?: Readonly<Record<string, string | null>> }) {
  const entries = Object.entries(labels);
  if (entries.length === 0) return <span class="muted">—</span>;
  return (
    <span class="labels" data-testid="labels">
      {entries.map(([k, v]) => {
        const byAdmin = admin?.[k] === v;
        return (
          <span key={k} class={`label-chip${byAdmin ? ' admin' : ''}`} title={byAdmin ? 'set by an admin' : undefined} data-label={k}>
            {k}={v}
          </span>
        );
      })}
    </span>
  );
}
