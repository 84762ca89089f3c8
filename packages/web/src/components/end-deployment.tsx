/**
 * "End it" on an InProgress deployment whose agent never reported (deployers):
 * asks in place for a reason, then POSTs …/deployments/:id/end. The
 * deployment becomes Failed with who and why; the agent's own report, if it
 * ever comes, replaces that.
 */
import { useState } from 'preact/hooks';
import { api, wsPath } from '../api/client.js';
import type { Deployment } from '../api/protocol.js';
import { useAction } from '../hooks/use-action.js';
import { ErrorBox } from './error-box.js';

export function EndDeploymentButton({ workspace, id, onEnded }: { workspace: string; id: string; onEnded: (d: Deployment) => void }) {
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState('');
  const end = useAction(async () => {
    onEnded(await api.post<Deployment>(wsPath(workspace, `/deployments/${encodeURIComponent(id)}/end`), { reason: reason.trim() }));
    setAsking(false);
  });
  if (!asking) {
    return (
      <button type="button" class="button danger-quiet" title="the agent never reported: mark it Failed yourself" onClick={() => setAsking(true)}>
        End it…
      </button>
    );
  }
  return (
    <form
      class="confirm"
      aria-label="End the deployment"
      onSubmit={(e) => {
        e.preventDefault();
        void end.run();
      }}
    >
      <label class="field">
        <span>Why (recorded with your name)</span>
        <input
          name="reason"
          required
          maxLength={500}
          placeholder="the machine was reinstalled"
          autoFocus
          value={reason}
          onInput={(e) => setReason(e.currentTarget.value)}
        />
      </label>
      <button type="submit" class="button danger" disabled={end.running || reason.trim() === ''}>
        End now (mark Failed)
      </button>
      <button type="button" class="button quiet" onClick={() => setAsking(false)}>
        Keep
      </button>
      <ErrorBox error={end.error} title="Could not end it" />
    </form>
  );
}
