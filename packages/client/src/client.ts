/**
 * The typed fetch client of the Drover API, for the CLI (Node 20's global
 * fetch), the web UI (same origin, session cookie + CSRF header) and the
 * tests: `/api/v1` URLs with a query string, a bearer token or extra headers
 * per request, JSON in and out, payloads checked by a decoder when the
 * caller passes one, and every failure an ApiError.
 */
import { API_PREFIX, type Decoder, DroverError } from '@drover/protocol/light';
import { apiErrorOf, ApiError, errorOfResponse, unreachableError } from './api-error.js';

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface ClientOptions {
  /** The server's origin (`http://127.0.0.1:7700`), or '' for the page's own origin. */
  readonly server: string;
  /** Sent as `Authorization: Bearer …`. */
  readonly token?: string | null | undefined;
  /** Headers computed per request, e.g. the web UI's CSRF header. */
  readonly headers?: ((method: string) => Record<string, string>) | undefined;
  /** `same-origin` for the web UI's session cookie. */
  readonly credentials?: RequestCredentials | undefined;
  /** Called when a request answers 401 (unless the request allows it). */
  readonly onUnauthorized?: (() => void) | undefined;
}

export interface SendOptions {
  /** Query parameters; undefined, null and '' values are left out. */
  readonly query?: Query | undefined;
  /** A JSON body (serialised here). */
  readonly json?: unknown;
  /** Any other body, with its own content-type in `headers`. */
  readonly body?: BodyInit | undefined;
  readonly headers?: Record<string, string> | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Other fetch options (e.g. `duplex` for a streamed body). */
  readonly init?: RequestInit | undefined;
}

export interface RequestOptions<T> extends SendOptions {
  /** Checks the answer's JSON and gives its type; without one the JSON is trusted to be T. */
  readonly decode?: Decoder<T> | undefined;
  /** Leave a 401 to the caller instead of calling onUnauthorized. */
  readonly allowUnauthorized?: boolean | undefined;
}

export class DroverClient {
  /** The server's origin without a trailing slash. */
  readonly server: string;

  constructor(private readonly options: ClientOptions) {
    this.server = options.server.replace(/\/+$/, '');
  }

  /** The absolute (or, with server '', origin-relative) URL of an API path. */
  url(path: string, query?: Query): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
    const qs = params.toString();
    return `${this.server}${API_PREFIX}${path}${qs ? `${path.includes('?') ? '&' : '?'}${qs}` : ''}`;
  }

  /** One request, answered with the raw Response whatever its status; only a missing answer throws (DROVER_ERR_UNREACHABLE). */
  async send(method: string, path: string, opts: SendOptions = {}): Promise<Response> {
    const headers: Record<string, string> = {
      ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
      ...(opts.json === undefined ? {} : { 'content-type': 'application/json' }),
      ...this.options.headers?.(method),
      ...opts.headers,
    };
    const body = opts.json === undefined ? opts.body : JSON.stringify(opts.json);
    try {
      return await fetch(this.url(path, opts.query), {
        ...opts.init,
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(this.options.credentials ? { credentials: this.options.credentials } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw unreachableError(this.server, err);
    }
  }

  /** A request whose answer must be 2xx: its JSON (checked by `decode` when given), or undefined for an empty body. */
  async request<T>(method: string, path: string, opts: RequestOptions<T> = {}): Promise<T> {
    const res = await this.send(method, path, { ...opts, headers: { accept: 'application/json', ...opts.headers } });
    if (!res.ok) throw await this.failure(res, opts.allowUnauthorized);
    const text = await res.text();
    let value: unknown;
    try {
      value = text ? JSON.parse(text) : undefined;
    } catch {
      throw apiErrorOf(new DroverError('DROVER_ERR_BAD_RESPONSE', `the answer to ${method} ${path} is not JSON: ${text.slice(0, 200)}`), res.status);
    }
    return decodeWith(opts.decode, value, res.status);
  }

  /** The ApiError of a failed response; tells onUnauthorized about a 401 unless allowed. */
  async failure(res: Response, allowUnauthorized = false): Promise<ApiError> {
    const error = await errorOfResponse(res);
    if (res.status === 401 && !allowUnauthorized) this.options.onUnauthorized?.();
    return error;
  }
}

/** `value` checked by `decode` (a mismatch is DROVER_ERR_BAD_RESPONSE), or trusted to be T without one. */
export function decodeWith<T>(decode: Decoder<T> | undefined, value: unknown, status = 0): T {
  if (!decode) return value as T;
  try {
    return decode(value);
  } catch (err) {
    if (err instanceof DroverError) throw apiErrorOf(err, status);
    throw err;
  }
}
