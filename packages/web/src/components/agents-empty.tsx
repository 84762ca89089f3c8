/** What to do when a workspace has no agents yet: the token to create and the command to run on the machine. */
import { Link, uiPath } from '../router.js';
import { useSession } from '../session.js';
import { useWorkspace } from '../workspace.js';
import { agentCommand } from '../commands.js';
import { EmptyState } from './layout.js';

export function NoAgentsYet() {
  const ws = useWorkspace();
  const { info } = useSession();
  return (
    <EmptyState title="No agents yet">
      <p>
        An agent appears here as soon as <code>drover agent</code> connects with an agent token of <strong>{ws.name}</strong>. On the machine to manage, run:
      </p>
      <pre class="command">
        <code>{agentCommand('drover_agent_…', 'NAME', info.publicUrl)}</code>
      </pre>
      {ws.canAdmin ? (
        <p>
          <Link href={`${uiPath(ws.name, 'tokens')}?new=agent`} class="button primary">
            Create an agent token
          </Link>
        </p>
      ) : (
        <p class="muted">Ask an administrator of this workspace for an agent token.</p>
      )}
    </EmptyState>
  );
}
