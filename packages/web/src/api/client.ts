/**
 * The HTTP client of the UI: JSON in and out of /api/v1, the session's CSRF
 * token on every state-changing request, and every failure turned into an
 * ApiError carrying the server's code, message and hint — so a page can
 * always say what went wrong and what to do about it.
 */
import { API_PREFIX, CSRF_HEADER, type ApiErrorBody } from './protocol.js';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly hint: string;
  readonly details: ApiErrorBody['details'];

  constructor(status: number, body: ApiErrorBody) {
    super(body.message);
    this.name = 'ApiError';
    this.status = status;
    this.code = body.code;
    this.hint = body.hint;
    this.details = body.details;
  }
}

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

/** Tells the app the session is gone (a 401 seen outside `request`, e.g. on an event stream). */
export function sessionEnded(): void {
  unauthorizedHandler?.();
}

export interface RequestOptions {
  /** Query parameters; undefined, null and '' values are left out. */
  query?: Record<string, string | number | null | undefined>;
  /** Leave a 401 to the caller instead of sending the user to the sign-in page. */
  allowUnauthorized?: boolean;
  signal?: AbortSignal;
}

/** `/api/v1` + path + query string. */
export function apiUrl(path: string, query?: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return `${API_PREFIX}${path}${qs ? `?${qs}` : ''}`;
}

/** The path of a workspace's resource: wsPath('prod', '/agents') → /workspaces/prod/agents. */
export function wsPath(workspace: string, rest = ''): string {
  return `/workspaces/${encodeURIComponent(workspace)}${rest}`;
}

export async function request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers[CSRF_HEADER] = csrfToken;
  let res: Response;
  try {
    res = await fetch(apiUrl(path, opts.query), {
      method,
      headers,
      credentials: 'same-origin',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw networkError(err);
  }
  if (res.ok) {
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
  const error = await errorOf(res);
  if (res.status === 401 && !opts.allowUnauthorized) unauthorizedHandler?.();
  throw error;
}

/** The ApiError for a failed response, whether or not its body is Drover's JSON error. */
export async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as Partial<ApiErrorBody>;
    if (typeof body.message === 'string') {
      return new ApiError(res.status, {
        code: body.code ?? `HTTP_${res.status}`,
        message: body.message,
        hint: body.hint ?? '',
        ...(body.details ? { details: body.details } : {}),
      });
    }
  } catch {
    // not JSON: a proxy's page or an empty body
  }
  return new ApiError(res.status, {
    code: `HTTP_${res.status}`,
    message: `The server answered ${res.status} ${res.statusText}`.trim(),
    hint: text ? text.slice(0, 200) : 'Check that drover server is running and reachable from this browser.',
  });
}

export function networkError(err: unknown): ApiError {
  return new ApiError(0, {
    code: 'NETWORK',
    message: `Could not reach the server${err instanceof Error ? ` (${err.message})` : ''}`,
    hint: 'Check that drover server is running and reachable from this browser, then try again.',
  });
}

export const api = {
  get: <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, undefined, opts),
  post: <T>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('POST', path, body ?? {}, opts),
  put: <T>(path: string, body: unknown, opts?: RequestOptions) => request<T>('PUT', path, body, opts),
  patch: <T>(path: string, body: unknown, opts?: RequestOptions) => request<T>('PATCH', path, body, opts),
  del: <T = void>(path: string, opts?: RequestOptions) => request<T>('DELETE', path, undefined, opts),
};
