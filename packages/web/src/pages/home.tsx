/**
 * `/`: the workspaces this user can see. Goes straight to the only one there
 * is (or the last one used); a global admin can create workspaces here and
 * open the server's audit log.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api/client.js';
import type { Workspace } from '../api/protocol.js';
import { ErrorBox } from '../components/error-box.js';
import { EmptyState, PageHeader } from '../components/layout.js';
import { useAction } from '../hooks/use-action.js';
import { Link, navigate, uiPath } from '../router.js';
import { isGlobalAdmin, useSession, useSignedIn } from '../session.js';

export const LAST_WORKSPACE_KEY = 'drover.lastWorkspace';

export function HomePage() {
  const session = useSignedIn();
  const globalAdmin = isGlobalAdmin(session);
  const names = session.workspaces.map((w) => w.name);
  const auto = !globalAdmin && names.length === 1 ? names[0] : null;

  useEffect(() => {
    if (auto) navigate(uiPath(auto, 'agents'), { replace: true });
  }, [auto]);
  if (auto) return null;

  const last = localStorage.getItem(LAST_WORKSPACE_KEY);
  return (
    <main class="page narrow">
      <PageHeader title="Workspaces" sub="Each workspace has its own agents, tokens, deployments and binary cache." />
      {session.workspaces.length === 0 ? (
        <EmptyState title="No workspace yet">
          {globalAdmin ? (
            <p>Create the first one below.</p>
          ) : (
            <p>
              You have no role in any workspace. Ask an administrator to grant you one:{' '}
              <code>drover user create {session.user.name} --role viewer --workspace NAME</code>
            </p>
          )}
        </EmptyState>
      ) : (
        <ul class="ws-list">
          {session.workspaces.map((w) => (
            <li key={w.name}>
              <Link href={uiPath(w.name, 'agents')} class="ws-link">
                <span class="ws-name">{w.name}</span>
                <span class="role">{w.role}</span>
                {w.name === last ? <span class="muted">last used</span> : null}
              </Link>
            </li>
          ))}
        </ul>
      )}
      {globalAdmin ? <CreateWorkspaceForm /> : null}
      {globalAdmin ? (
        <p>
          <Link href="/audit">Audit log of every workspace</Link> — who changed what on this server.
        </p>
      ) : null}
    </main>
  );
}

function CreateWorkspaceForm() {
  const { refresh } = useSession();
  const [name, setName] = useState('');
  const create = useAction(async () => {
    const ws = await api.post<Workspace>('/workspaces', { name: name.trim() });
    await refresh();
    navigate(uiPath(ws.name, 'agents'));
  });
  return (
    <form
      class="card inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        void create.run();
      }}
    >
      <h2>New workspace</h2>
      <div class="row">
        <label class="field grow">
          <span>Name</span>
          <input
            name="workspace"
            required
            maxLength={64}
            placeholder="production"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            aria-describedby="ws-name-help"
          />
        </label>
        <button type="submit" class="button primary" disabled={create.running}>
          Create workspace
        </button>
      </div>
      <p id="ws-name-help" class="help">
        Lowercase letters, digits and "-", starting with a letter or digit.
      </p>
      <ErrorBox error={create.error} />
    </form>
  );
}
