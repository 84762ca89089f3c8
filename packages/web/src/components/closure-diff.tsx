/**
 * A deployment's closure diff on its page: the summary line, the path it was
 * computed against and by whom, the closure sizes, and tables of the
 * packages added, removed and changed (versions as `nix store
 * diff-closures` writes them: ∅ none, ε the empty version).
 */
import { diffSummary, formatSizeDelta, formatVersions, type ClosureDiff, type DeploymentStatus } from '../api/protocol.js';
import { bytes } from '../format.js';

function PackageTable({ title, testid, rows }: { title: string; testid: string; rows: [name: string, version: string][] }) {
  if (rows.length === 0) return null;
  return (
    <section class="diff-part" data-testid={testid}>
      <h3>
        {title} <span class="muted">({rows.length})</span>
      </h3>
      <div class="table-wrap">
        <table class="table">
          <thead>
            <tr>
              <th>Package</th>
              <th>Version</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([name, version]) => (
              <tr key={`${name} ${version}`}>
                <th>{name}</th>
                <td>{version}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function ClosureDiffView({ diff, status }: { diff: ClosureDiff | null; status: DeploymentStatus }) {
  if (!diff) {
    const later = status === 'Pending' || status === 'InProgress';
    return (
      <section class="closure-diff" data-testid="closure-diff">
        <h2>What changed</h2>
        <p class="empty-inline">
          {later ? 'Not known yet: the agent computes it once it has fetched the closure.' : 'No closure diff was computed for this deployment.'}
        </p>
      </section>
    );
  }
  const none = diff.added.length + diff.removed.length + diff.changed.length === 0;
  return (
    <section class="closure-diff" data-testid="closure-diff">
      <h2>
        What changed{' '}
        <span class="diff-summary" data-testid="diff-summary">
          {diffSummary(diff)}
        </span>
      </h2>
      <p class="muted">
        Against {diff.from ? <code>{diff.from}</code> : 'nothing (the agent ran no path before)'}, computed by the {diff.source}
        {diff.sizeFrom !== null && diff.sizeTo !== null && diff.sizeDelta !== null ? (
          <span data-testid="diff-size">
            {' '}
            · closure {bytes(diff.sizeFrom)} → {bytes(diff.sizeTo)} ({formatSizeDelta(diff.sizeDelta)})
          </span>
        ) : null}
      </p>
      {none ? <p class="empty-inline">No package was added, removed or changed.</p> : null}
      <PackageTable title="Added" testid="diff-added" rows={diff.added.map((p) => [p.name, formatVersions([p.version])])} />
      <PackageTable title="Removed" testid="diff-removed" rows={diff.removed.map((p) => [p.name, formatVersions([p.version])])} />
      <PackageTable title="Changed" testid="diff-changed" rows={diff.changed.map((c) => [c.name, `${formatVersions(c.from)} → ${formatVersions(c.to)}`])} />
    </section>
  );
}
