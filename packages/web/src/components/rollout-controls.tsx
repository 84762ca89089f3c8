/**
 * A rollout's buttons for deployers: Pause while it runs, Resume while it is
 * paused, Abort (asked once more: the deployments not started yet become
 * Held) while it runs or is paused. Each answers the new activation view.
 */
import { api } from '../api/client.js';
import type { Rollout } from '../api/activation.js';
import type { ActivationView } from '../api/protocol.js';
import { activationPath } from '../hooks/use-activation.js';
import { isLive } from './activation-summary.js';
import { useAction } from '../hooks/use-action.js';
import { ConfirmButton } from './confirm-button.js';
import { ErrorBox } from './error-box.js';

type Verb = 'pause' | 'resume' | 'abort';

export function RolloutControls({
  workspace,
  id,
  rollout,
  onChanged,
}: {
  workspace: string;
  id: string;
  rollout: Rollout;
  onChanged: (view: ActivationView) => void;
}) {
  const act = useAction(async (verb: Verb) => onChanged(await api.post<ActivationView>(activationPath(workspace, id, `/${verb}`))));
  const live = isLive(rollout);
  if (!live && !act.error) return null;
  return (
    <div class="rollout-controls">
      {rollout.state === 'running' ? (
        <button type="button" class="button" disabled={act.running} onClick={() => void act.run('pause')}>
          Pause
        </button>
      ) : null}
      {rollout.state === 'paused' ? (
        <button type="button" class="button primary" disabled={act.running} onClick={() => void act.run('resume')}>
          Resume
        </button>
      ) : null}
      {live ? <ConfirmButton label="Abort…" confirmLabel="Abort: hold the rest" disabled={act.running} onConfirm={() => void act.run('abort')} /> : null}
      <ErrorBox error={act.error} title="The rollout did not change" />
    </div>
  );
}
