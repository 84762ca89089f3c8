/**
 * The web UI's connection to the API: the shared @drover/client on the
 * page's own origin with the session cookie, the session's CSRF token on
 * every state-changing request, and a 401 sending the user to sign in —
 * every failure an ApiError carrying the server's code, message and hint,
 * so a page can always say what went wrong and what to do about it.
 */
import { DroverClient, type Query } from '@drover/client';
import { CSRF_HEADER } from './protocol.js';

export { ApiError } from '@drover/client';

let csrfToken: string | null = null;
let unauthorizedHandler: (() => void) | null = null;

/** Set from the session; sent back on every POST/PUT/PATCH/DELETE. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when a request answers 401 (the session expired or was ended elsewhere). */
export function onUnauthorized(handler: (() => void) | null): void {
  unauthorizedHandler = handler;
}

/** The one client of the UI (event streams use it too, so a 401 there also ends the session). */
export const client = new DroverClient({
  server: '',
  credentials: 'same-origin',
  headers: (method): Record<string, string> => (method !== 'GET' && csrfToken ? { [CSRF_HEADER]: csrfToken } : {}),
  onUnauthorized: () => unauthorizedHandler?.(),
});

export interface RequestOptions {
  /** Query parameters; undefined, null and '' values are left out. */
  query?: Query;
  /** Leave a 401 to the caller instead of sending the user to the sign-in page. */
  allowUnauthorized?: boolean;
  signal?: AbortSignal;
}

/** The path of a workspace's resource: wsPath('prod', '/agents') → /workspaces/prod/agents. */
export function wsPath(workspace: string, rest = ''): string {
  return `/workspaces/${encodeURIComponent(workspace)}${rest}`;
}

function request<T>(method: string, path: string, body: unknown, opts: RequestOptions = {}): Promise<T> {
  return client.request<T>(method, path, { json: body, query: opts.query, signal: opts.signal, allowUnauthorized: opts.allowUnauthorized });
}

export const api = {
  get: <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, undefined, opts),
  post: <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('POST', path, body ?? {}, opts),
  put: <T>(path: string, body: unknown, opts?: RequestOptions) => request<T>('PUT', path, body, opts),
  patch: <T>(path: string, body: unknown, opts?: RequestOptions) => request<T>('PATCH', path, body, opts),
  del: <T = void>(path: string, opts?: RequestOptions) => request<T>('DELETE', path, undefined, opts),
};
