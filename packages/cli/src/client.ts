/**
 * The CLI's HTTP client for the Drover API: JSON requests whose errors
 * carry the server's code, message and hint, and a server-sent-events
 * reader for live logs.
 */
import { API_PREFIX, DroverError } from '@drover/protocol';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint: string | undefined,
    readonly details: readonly { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

export interface ApiClientOptions {
  readonly server: string;
  readonly token: string | undefined;
}

export class ApiClient {
  readonly base: string;

  constructor(private readonly opts: ApiClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.server);
    } catch {
      throw new DroverError('DROVER_ERR_CONFIG', `--server ${JSON.stringify(opts.server)} is not a URL (expected e.g. http://127.0.0.1:7700)`);
    }
    this.base = url.toString().replace(/\/$/, '');
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}), ...extra };
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${API_PREFIX}${path}`, {
        method,
        headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new ApiError(0, 'CONNECTION_FAILED', `cannot reach the Drover server at ${this.base}: ${cause}`, 'Check --server / DROVER_SERVER and that `drover server` is running.');
    }
    const text = await res.text();
    if (!res.ok) {
      let parsed: { code?: string; message?: string; hint?: string; details?: { path: string; message: string }[] } = {};
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        /* not JSON */
      }
      throw new ApiError(res.status, parsed.code ?? `HTTP_${res.status}`, parsed.message ?? (text.slice(0, 300) || res.statusText), parsed.hint, parsed.details ?? []);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Reads a server-sent event stream until it ends or `signal` aborts,
   * calling `onEvent` for each event.
   */
  async events(path: string, onEvent: (event: string, data: string) => void, signal: AbortSignal): Promise<void> {
    const res = await fetch(`${this.base}${API_PREFIX}${path}`, { headers: this.headers({ accept: 'text/event-stream' }), signal });
    if (!res.ok || !res.body) {
      const text = await res.text();
      let message = text;
      try {
        message = (JSON.parse(text) as { message: string }).message;
      } catch {
        /* keep text */
      }
      throw new ApiError(res.status, `HTTP_${res.status}`, message, undefined);
    }
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let sep = buffer.indexOf('\n\n');
      while (sep >= 0) {
        const block = buffer.slice(0, sep);
        buffer = buffer.slice(sep + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) onEvent(event, data.join('\n'));
        sep = buffer.indexOf('\n\n');
      }
    }
  }
}
