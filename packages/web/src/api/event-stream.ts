/**
 * Server-sent events read with fetch and a streaming reader (cookies and the
 * error body included), reconnecting with backoff. The URL is asked for again
 * on every attempt so a log stream can resume after the last line it saw.
 */
import { ApiError, errorOf, networkError, sessionEnded } from './client.js';

export interface SseMessage {
  event: string;
  data: string;
  id: string | null;
}

/** The JSON data of a message; undefined when it is not JSON (such a message is skipped). */
export function messageData(m: SseMessage): unknown {
  try {
    return JSON.parse(m.data) as unknown;
  } catch {
    return undefined;
  }
}

export interface EventStreamHandlers {
  /** The stream is open (again); `reconnected` is true after a drop, when events may have been missed. */
  onOpen?(reconnected: boolean): void;
  onMessage(message: SseMessage): void;
  /** A failed attempt; `fatal` when no retry follows (401, 403, 404). */
  onError?(error: ApiError, fatal: boolean): void;
}

export interface EventStream {
  close(): void;
}

const FATAL_STATUSES = new Set([400, 401, 403, 404]);

export function openEventStream(url: () => string, handlers: EventStreamHandlers): EventStream {
  const controller = new AbortController();
  let attempts = 0;
  let opened = false;

  const run = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      try {
        const res = await fetch(url(), {
          headers: { accept: 'text/event-stream' },
          credentials: 'same-origin',
          cache: 'no-store',
          signal: controller.signal,
        });
        if (!res.ok || !res.body) {
          const error = await errorOf(res);
          const fatal = FATAL_STATUSES.has(res.status);
          handlers.onError?.(error, fatal);
          if (res.status === 401) sessionEnded();
          if (fatal) return;
        } else {
          handlers.onOpen?.(opened);
          opened = true;
          attempts = 0;
          await readMessages(res.body, (m) => {
            if (!controller.signal.aborted) handlers.onMessage(m);
          });
        }
      } catch (err) {
        if (controller.signal.aborted) return;
        handlers.onError?.(networkError(err), false);
      }
      if (controller.signal.aborted) return;
      attempts++;
      await sleep(Math.min(15_000, 500 * 2 ** Math.min(attempts, 5)), controller.signal);
    }
  };
  void run();
  return { close: () => controller.abort() };
}

/** Parses the text/event-stream format (https://html.spec.whatwg.org/#event-stream-interpretation). */
async function readMessages(body: ReadableStream<Uint8Array>, emit: (m: SseMessage) => void): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | null = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
      if (nl === buffer.length - 1 && buffer[nl] === '\r') break; // maybe half of \r\n
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (data.length) emit({ event: event || 'message', data: data.join('\n'), id });
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = val;
      else if (field === 'data') data.push(val);
      else if (field === 'id') id = val;
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
