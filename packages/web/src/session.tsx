/**
 * The signed-in user, shared by every page: the session (user, grants,
 * workspaces with roles, CSRF token) and the server's public facts. A 401
 * from any request ends the session here and sends the user to sign in.
 */
import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, onUnauthorized, setCsrfToken } from './api/client.js';
import type { Role, ServerInfo, Session } from './api/protocol.js';
import { asApiError } from './hooks/use-resource.js';
import { navigate } from './router.js';

export interface SessionState {
  /** null: not signed in. */
  session: Session | null;
  info: ServerInfo;
  /** Fetch the session again (after a workspace was created, renamed or deleted). */
  refresh(): Promise<void>;
  signIn(name: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const state = useContext(SessionContext);
  if (!state) throw new Error('useSession outside <SessionProvider>');
  return state;
}

/** The signed-in session; only for pages rendered behind the sign-in check. */
export function useSignedIn(): Session {
  const { session } = useSession();
  if (!session) throw new Error('useSignedIn without a session');
  return session;
}

export function isGlobalAdmin(session: Session): boolean {
  return session.user.grants.some((g) => g.workspace === null && g.role === 'admin');
}

export function roleIn(session: Session, workspace: string): Role | null {
  return session.workspaces.find((w) => w.name === workspace)?.role ?? null;
}

/** The sign-in page, remembering where to go back to. */
export function loginPathFor(path: string): string {
  return path === '/' || path.startsWith('/login') ? '/login' : `/login?next=${encodeURIComponent(path)}`;
}

async function fetchSession(): Promise<Session | null> {
  try {
    return await api.get<Session>('/session', { allowUnauthorized: true });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

async function fetchInfo(): Promise<ServerInfo> {
  try {
    return await api.get<ServerInfo>('/info', { allowUnauthorized: true });
  } catch {
    return { version: '', publicUrl: window.location.origin };
  }
}

export function SessionProvider({ children, fallback }: { children: ComponentChildren; fallback: (error: ApiError | null) => ComponentChildren }) {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [info, setInfo] = useState<ServerInfo | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  const adopt = useCallback((s: Session | null) => {
    setCsrfToken(s?.csrfToken ?? null);
    setSession(s);
  }, []);

  const refresh = useCallback(async () => adopt(await fetchSession()), [adopt]);

  useEffect(() => {
    Promise.all([fetchSession(), fetchInfo()]).then(
      ([s, i]) => {
        setInfo(i);
        adopt(s);
      },
      (err: unknown) => setError(asApiError(err)),
    );
    onUnauthorized(() => {
      adopt(null);
      navigate(loginPathFor(window.location.pathname + window.location.search), { replace: true });
    });
    return () => onUnauthorized(null);
  }, [adopt]);

  const state = useMemo<SessionState | null>(() => {
    if (session === undefined || !info) return null;
    return {
      session,
      info,
      refresh,
      signIn: async (name, password) => adopt(await api.post<Session>('/session', { name, password }, { allowUnauthorized: true })),
      signOut: async () => {
        try {
          await api.del('/session', { allowUnauthorized: true });
        } finally {
          adopt(null);
          navigate('/login');
        }
      },
    };
  }, [session, info, refresh, adopt]);

  if (!state) return <>{fallback(error)}</>;
  return <SessionContext.Provider value={state}>{children}</SessionContext.Provider>;
}
