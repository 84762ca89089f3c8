/**
 * The frame around every signed-in page: the top bar (product, workspace
 * switcher, live indicator, user and sign-out) and a workspace's tabs.
 */
import type { ComponentChildren } from 'preact';
import { useTitle } from '../hooks/use-title.js';
import { Link, navigate, uiPath, useLocation } from '../router.js';
import { useSession, useSignedIn } from '../session.js';
import { useWorkspace, type LiveState } from '../workspace.js';

export function TopBar({ workspace }: { workspace?: string }) {
  const session = useSignedIn();
  const { signOut } = useSession();
  const { path } = useLocation();
  const section = /^\/w\/[^/]+\/([^/]+)/.exec(path)?.[1] ?? 'agents';
  return (
    <header class="topbar">
      <Link href="/" class="brand">
        Drover
      </Link>
      {session.workspaces.length > 0 ? (
        <label class="ws-switch">
          <span class="visually-hidden">Workspace</span>
          <select
            value={workspace ?? ''}
            onChange={(e) => {
              const next = e.currentTarget.value;
              navigate(next ? uiPath(next, ['deployments', 'secrets', 'tokens', 'webhooks', 'audit', 'settings'].includes(section) ? section : 'agents') : '/');
            }}
          >
            {workspace ? null : <option value="">Choose a workspace…</option>}
            {session.workspaces.map((w) => (
              <option key={w.name} value={w.name}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <span class="spacer" />
      <span class="user" title={`Signed in as ${session.user.name}`}>
        {session.user.name}
      </span>
      <button type="button" class="button small quiet" onClick={() => void signOut()}>
        Sign out
      </button>
    </header>
  );
}

const LIVE_LABELS: Record<LiveState, string> = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  unavailable: 'not live (reload to retry)',
};

export function WorkspaceTabs() {
  const ws = useWorkspace();
  const { path } = useLocation();
  const tabs: [string, string][] = [
    ['agents', 'Agents'],
    ['deployments', 'Deployments'],
    ['secrets', 'Secrets'],
    ...(ws.canAdmin
      ? ([
          ['tokens', 'Tokens'],
          ['audit', 'Audit'],
          ['webhooks', 'Webhooks'],
          ['settings', 'Settings'],
        ] as [string, string][])
      : []),
  ];
  return (
    <nav class="tabs" aria-label="Workspace">
      {tabs.map(([slug, label]) => {
        const href = uiPath(ws.name, slug);
        const active = path === href || path.startsWith(`${href}/`);
        return (
          <Link key={slug} href={href} class={active ? 'tab active' : 'tab'} aria-current={active ? 'page' : undefined}>
            {label}
          </Link>
        );
      })}
      <span class="spacer" />
      <span class="role" title="Your role in this workspace">
        {ws.role ?? 'no role'}
      </span>
      <span
        class={`live live-${ws.live}`}
        data-live={ws.live}
        title={`Live updates: ${LIVE_LABELS[ws.live]}`}
        aria-label={`Live updates: ${LIVE_LABELS[ws.live]}`}
      >
        <span class="live-text">{LIVE_LABELS[ws.live]}</span>
      </span>
    </nav>
  );
}

/**
 * The page's title row: a heading, an optional line under it and the page's
 * buttons on the right. It also sets the document title: `pageTitle`, else a
 * heading that is plain text.
 */
export function PageHeader({
  title,
  pageTitle,
  sub,
  actions,
}: {
  title: ComponentChildren;
  pageTitle?: string;
  sub?: ComponentChildren;
  actions?: ComponentChildren;
}) {
  useTitle(pageTitle ?? (typeof title === 'string' ? title : null));
  return (
    <div class="page-header">
      <div class="page-title">
        <h1>{title}</h1>
        {sub ? <p class="sub">{sub}</p> : null}
      </div>
      {actions ? <div class="actions">{actions}</div> : null}
    </div>
  );
}

/** A box telling what to do when a list is empty. */
export function EmptyState({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <h2>{title}</h2>
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}
