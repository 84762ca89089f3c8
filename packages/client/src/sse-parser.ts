/**
 * The text/event-stream format, parsed incrementally by the rules of
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation:
 * lines end in CRLF, LF or CR (also when a chunk ends between CR and LF);
 * `:` lines are comments; a field without a colon has an empty value; one
 * space after the colon is dropped; `data` lines join with "\n"; a blank line
 * dispatches the event if it has data; `id` persists until changed (and is
 * ignored when it holds NUL); `retry` sets the reconnection delay.
 */

export interface SseMessage {
  /** The `event` field, or "message". */
  readonly event: string;
  readonly data: string;
  /** The last event ID seen on this stream (it carries over to later events), null before any. */
  readonly id: string | null;
}

export class SseParser {
  private buffer = '';
  private started = false;
  private event = '';
  private data: string[] = [];
  /** The last event ID: what a reconnect sends as Last-Event-ID. */
  lastEventId: string | null = null;
  /** The reconnection delay the server asked for with `retry:`, if it did. */
  retryMs: number | null = null;

  /** Feeds decoded text; returns the events it completes. */
  push(text: string): SseMessage[] {
    this.buffer += text;
    if (!this.started && this.buffer.length > 0) {
      this.started = true;
      if (this.buffer.startsWith('\uFEFF')) this.buffer = this.buffer.slice(1);
    }
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      if (c === '\r' && i === this.buffer.length - 1) break; // maybe the first half of CRLF: wait for more
      const message = this.line(this.buffer.slice(start, i));
      if (message) out.push(message);
      if (c === '\r' && this.buffer[i + 1] === '\n') i++;
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** The stream ended: a trailing CR ends its line; an event without its blank line is dropped, as the spec says. */
  end(): SseMessage[] {
    const out = this.buffer.endsWith('\r') ? this.push('\n') : [];
    this.buffer = '';
    this.event = '';
    this.data = [];
    return out;
  }

  private line(line: string): SseMessage | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return null;
  }

  private dispatch(): SseMessage | null {
    const message = this.data.length > 0 ? { event: this.event || 'message', data: this.data.join('\n'), id: this.lastEventId } : null;
    this.event = '';
    this.data = [];
    return message;
  }
}
