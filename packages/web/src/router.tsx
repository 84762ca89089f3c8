/**
 * A small client-side router: the location as state, `navigate()`, links that
 * stay in the page, and pattern matching for paths like /w/:ws/agents/:name.
 * drover server answers every UI path with index.html, so deep links work.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export interface Location {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();

function current(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

window.addEventListener('popstate', () => listeners.forEach((l) => l()));

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === window.location.pathname + window.location.search) return;
  if (opts.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  if (!opts.replace) window.scrollTo(0, 0);
  listeners.forEach((l) => l());
}

/** The current location; the component re-renders when it changes. */
export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    listeners.add(update);
    // A child's effect may have navigated before this one subscribed (children's effects run first).
    const now = current();
    if (now.path !== loc.path || now.query.toString() !== loc.query.toString()) update();
    return () => void listeners.delete(update);
  }, []);
  return loc;
}

/** Replaces some query parameters of the current URL (empty values are removed). */
export function setQuery(patch: Record<string, string | number | null | undefined>): void {
  const params = new URLSearchParams(window.location.search);
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === null || v === '') params.delete(k);
    else params.set(k, String(v));
  }
  const qs = params.toString();
  navigate(`${window.location.pathname}${qs ? `?${qs}` : ''}`, { replace: true });
}

/** Matches '/w/:ws/agents/:name' against a path; the decoded parameters, or null. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/').filter(Boolean);
  const have = path.split('/').filter(Boolean);
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (const [i, w] of want.entries()) {
    const h = have[i];
    if (h === undefined) return null;
    if (w.startsWith(':')) {
      try {
        params[w.slice(1)] = decodeURIComponent(h);
      } catch {
        return null;
      }
    } else if (w !== h) return null;
  }
  return params;
}

/** The UI path of a workspace page: uiPath('prod', 'agents', 'web-1') → /w/prod/agents/web-1. */
export function uiPath(workspace: string, ...rest: string[]): string {
  return ['', 'w', workspace, ...rest].map((s, i) => (i < 2 ? s : encodeURIComponent(s))).join('/');
}

interface LinkProps {
  href: string;
  class?: string;
  title?: string;
  'aria-current'?: 'page' | undefined;
  children?: ComponentChildren;
}

/** An <a> that navigates inside the page on a plain click and behaves like a link otherwise. */
export function Link({ href, children, ...rest }: LinkProps) {
  return (
    <a
      href={href}
      onClick={(e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
      }}
      {...rest}
    >
      {children}
    </a>
  );
}
