/**
 * Following a server-sent event stream with fetch and a streaming reader
 * (so the bearer token or session cookie goes along and a refusal carries
 * the server's error body), the same in the browser and on Node 20.
 * `openEventStream` reconnects with backoff until closed: a refusal with a
 * 4xx status (except 408 and 429) is fatal; when `resume` is set each
 * reconnect sends the last event id as Last-Event-ID.
 */
import { ApiError, unreachableError } from './api-error.js';
import type { DroverClient, Query } from './client.js';
import { SseParser, type SseMessage } from './sse-parser.js';

/**
 * Reads a response body to its end, or until `signal` aborts, calling
 * `onMessage` for each event. An abort stops the loop itself and cancels the
 * reader: Node 20's fetch never settles a read after an abort once the body
 * has fully arrived.
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  parser: SseParser,
  onMessage: (message: SseMessage) => void,
  signal?: AbortSignal,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    while (!signal?.aborted) {
      const { value, done } = await reader.read();
      const messages = done ? parser.push(decoder.decode()).concat(parser.end()) : parser.push(decoder.decode(value, { stream: true }));
      for (const m of messages) if (!signal?.aborted) onMessage(m);
      if (done) return;
    }
  } finally {
    signal?.removeEventListener('abort', cancel);
    reader.releaseLock();
  }
}

export interface EventStreamHandlers {
  /** The stream is open (again); `reconnected` is true after a drop, when events may have been missed. */
  onOpen?(reconnected: boolean): void;
  onMessage(message: SseMessage): void;
  /** A failed attempt; `fatal` when no retry follows. */
  onError?(error: ApiError, fatal: boolean): void;
  /** The server ended the stream (no error); a reconnect follows. */
  onDrop?(): void;
}

export interface EventStreamOptions {
  /** The query of each attempt, asked for again every time (e.g. to resume after the last line seen). */
  readonly query?: (() => Query) | undefined;
  /** Send the last event id as Last-Event-ID when reconnecting. */
  readonly resume?: boolean | undefined;
  /** The longest wait between attempts (default 15 s). */
  readonly maxDelayMs?: number | undefined;
}

export interface EventStream {
  close(): void;
  /** Settles once the stream is closed or refused for good: with the fatal error, or null. */
  readonly done: Promise<ApiError | null>;
}

export function openEventStream(client: DroverClient, path: string, handlers: EventStreamHandlers, options: EventStreamOptions = {}): EventStream {
  const controller = new AbortController();
  const signal = controller.signal;
  const parser = new SseParser();
  // Read through a call: TypeScript keeps `signal.aborted` narrowed across the awaits below, during any of which close() may abort.
  const aborted = (): boolean => signal.aborted;

  const run = async (): Promise<ApiError | null> => {
    let attempts = 0;
    let opened = false;
    while (!aborted()) {
      parser.end(); // a stream cut mid-event leaves nothing behind for the next one
      try {
        const lastId = options.resume ? parser.lastEventId : null;
        const res = await client.send('GET', path, {
          query: options.query?.(),
          headers: { accept: 'text/event-stream', ...(lastId === null ? {} : { 'last-event-id': lastId }) },
          init: { cache: 'no-store' },
          signal,
        });
        if (!res.ok || !res.body) {
          const error = await client.failure(res);
          const fatal = isFatal(res.status);
          handlers.onError?.(error, fatal);
          if (fatal) return error;
        } else {
          handlers.onOpen?.(opened);
          opened = true;
          attempts = 0;
          await readEventStream(res.body, parser, (m) => handlers.onMessage(m), signal);
          if (!aborted()) handlers.onDrop?.();
        }
      } catch (err) {
        if (aborted()) return null;
        handlers.onError?.(err instanceof ApiError ? err : unreachableError(client.server, err), false);
      }
      if (aborted()) return null;
      attempts++;
      await sleep(parser.retryMs ?? Math.min(options.maxDelayMs ?? 15_000, 500 * 2 ** Math.min(attempts, 5)), signal);
    }
    return null;
  };
  return { close: () => controller.abort(), done: run() };
}

function isFatal(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
