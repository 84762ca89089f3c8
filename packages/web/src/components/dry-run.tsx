/**
 * The deployment page's part for a dry run (`drover activate --dry`): a
 * "Dry run" banner saying nothing was switched, and — once the agent
 * reported them (NixOS) — the units a switch would stop, reload, restart
 * and start. Renders nothing for a real deployment.
 */
import { UNIT_ACTIONS, type Deployment } from '../api/protocol.js';

const HEADINGS = { stop: 'Would stop', reload: 'Would reload', restart: 'Would restart', start: 'Would start' } as const;

export function DryRunFindings({ deployment: d }: { deployment: Deployment }) {
  if (!d.dry) return null;
  const units = d.wouldRestart;
  const none = units !== null && UNIT_ACTIONS.every((action) => units[action].length === 0);
  return (
    <section class="dry-run" data-testid="dry-run">
      <h2>
        Dry run <span class="muted">nothing is switched on {d.agent}</span>
      </h2>
      {units === null ? (
        <p class="muted" data-testid="dry-run-none">
          {d.status === 'Pending' || d.status === 'InProgress'
            ? 'The agent fetches the closure, then asks the configuration what a switch would do.'
            : 'No unit list: this profile type has no dry activation (see the log and the closure diff).'}
        </p>
      ) : none ? (
        <p data-testid="dry-run-none">No unit would be stopped, reloaded, restarted or started.</p>
      ) : (
        <dl class="dry-run-units">
          {UNIT_ACTIONS.filter((action) => units[action].length > 0).map((action) => (
            <div class={`dry-run-${action}`} data-testid={`would-${action}`} key={action}>
              <dt>
                {HEADINGS[action]} ({units[action].length})
              </dt>
              <dd>
                {units[action].map((unit) => (
                  <code key={unit}>{unit}</code>
                ))}
              </dd>
            </div>
          ))}
        </dl>
      )}
    </section>
  );
}
