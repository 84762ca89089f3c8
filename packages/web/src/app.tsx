/**
 * The UI's routes. Everything but /login needs a session; /w/:ws/… pages
 * run inside their workspace (role, live events). A render error shows a
 * message instead of a blank page.
 */
import { useEffect } from 'preact/hooks';
import { useErrorBoundary } from 'preact/hooks';
import { api, wsPath } from './api/client.js';
import type { Workspace } from './api/protocol.js';
import { ErrorBox } from './components/error-box.js';
import { Loading, PageHeader, TopBar, WorkspaceTabs } from './components/layout.js';
import { asApiError, useResource } from './hooks/use-resource.js';
import { ActivationPage } from './pages/activation.js';
import { AgentPage } from './pages/agent.js';
import { AgentsPage } from './pages/agents.js';
import { DeploymentPage } from './pages/deployment.js';
import { DeploymentsPage } from './pages/deployments.js';
import { HomePage, LAST_WORKSPACE_KEY } from './pages/home.js';
import { LoginPage } from './pages/login.js';
import { SecretsPage } from './pages/secrets.js';
import { SettingsPage } from './pages/settings.js';
import { WebhooksPage } from './pages/webhooks.js';
import { TokensPage } from './pages/tokens.js';
import { AuditPage, ServerAuditPage } from './pages/audit.js';
import { Link, matchPath, navigate, uiPath, useLocation } from './router.js';
import { loginPathFor, roleIn, SessionProvider, useSession, useSignedIn } from './session.js';
import { WorkspaceProvider } from './workspace.js';

export function App() {
  // Preact types the caught value `any`; it is whatever was thrown.
  const boundary: [unknown, () => void] = useErrorBoundary();
  const [renderError, resetError] = boundary;
  if (renderError) {
    return (
      <main class="page narrow">
        <ErrorBox error={asApiError(renderError)} title="The page failed" />
        <button type="button" class="button" onClick={() => resetError()}>
          Try again
        </button>
      </main>
    );
  }
  return (
    <SessionProvider
      fallback={(error) =>
        error ? (
          <main class="page narrow">
            <ErrorBox error={error} title="Drover could not start" />
          </main>
        ) : (
          <Loading what="Drover" />
        )
      }
    >
      <Routes />
    </SessionProvider>
  );
}

function Routes() {
  const { session } = useSession();
  const { path } = useLocation();
  if (path === '/login') return <LoginPage />;
  if (!session) return <Redirect to={loginPathFor(path + window.location.search)} />;
  if (path === '/') {
    return (
      <>
        <TopBar />
        <HomePage />
      </>
    );
  }
  if (path === '/audit') {
    return (
      <>
        <TopBar />
        <ServerAuditPage />
      </>
    );
  }
  const ws = matchPath('/w/:ws', path) ?? matchPath('/w/:ws/:section', path) ?? matchPath('/w/:ws/:section/:id', path);
  const name = ws?.['ws'];
  if (ws && name !== undefined) return <WorkspaceRoute name={name} section={ws['section']} id={ws['id']} />;
  return <NotFound />;
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function WorkspaceRoute({ name, section, id }: { name: string; section: string | undefined; id: string | undefined }) {
  const session = useSignedIn();
  const role = roleIn(session, name);
  useEffect(() => {
    if (role) localStorage.setItem(LAST_WORKSPACE_KEY, name);
  }, [name, role]);
  if (!role) return <UnknownWorkspace name={name} />;
  if (!section) return <Redirect to={uiPath(name, 'agents')} />;
  const page = workspacePage(section, id);
  return (
    <WorkspaceProvider key={name} name={name} role={role}>
      <TopBar workspace={name} />
      <WorkspaceTabs />
      {page ?? <NotFound inWorkspace />}
    </WorkspaceProvider>
  );
}

function workspacePage(section: string, id: string | undefined) {
  if (id === undefined) {
    if (section === 'agents') return <AgentsPage />;
    if (section === 'deployments') return <DeploymentsPage />;
    if (section === 'tokens') return <TokensPage />;
    if (section === 'secrets') return <SecretsPage />;
    if (section === 'settings') return <SettingsPage />;
    if (section === 'audit') return <AuditPage />;
    if (section === 'webhooks') return <WebhooksPage />;
    return null;
  }
  if (section === 'agents') return <AgentPage key={id} name={id} />;
  if (section === 'deployments') return <DeploymentPage key={id} id={id} />;
  if (section === 'activations') return <ActivationPage key={id} id={id} />;
  return null;
}

/** A workspace missing from the session: ask the API, which says why (or that the session is stale). */
function UnknownWorkspace({ name }: { name: string }) {
  const { refresh } = useSession();
  const probe = useResource((signal) => api.get<Workspace>(wsPath(name), { signal }), [name]);
  useEffect(() => {
    if (probe.data) void refresh();
  }, [probe.data]);
  return (
    <>
      <TopBar />
      <main class="page narrow">
        <PageHeader title={name} />
        {probe.error ? <ErrorBox error={probe.error} /> : <Loading what="the workspace" />}
        <p>
          <Link href="/">Choose another workspace</Link>
        </p>
      </main>
    </>
  );
}

function NotFound({ inWorkspace = false }: { inWorkspace?: boolean }) {
  return (
    <>
      {inWorkspace ? null : <TopBar />}
      <main class="page narrow">
        <PageHeader title="Page not found" />
        <p>
          Nothing lives at <code>{window.location.pathname}</code>. <Link href="/">Go to your workspaces</Link>
        </p>
      </main>
    </>
  );
}
