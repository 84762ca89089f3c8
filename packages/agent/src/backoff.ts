/**
 * Reconnect delays: capped exponential backoff with full jitter, so a
 * fleet that lost the server does not come back in one synchronized wave.
 */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly random?: () => number;
}

/**
 * The delay a `Retry-After` header asks for (delay-seconds or an HTTP date), plus up to a second of jitter, at most
 * `maxMs`; null when there is none or it cannot be read.
 */
export function retryAfterMs(header: string | string[] | undefined, maxMs: number, now = Date.now(), random: () => number = Math.random): number | null {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value === undefined || value === '') return null;
  const seconds = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(seconds)) return null;
  return Math.min(maxMs, Math.max(0, seconds) + Math.round(random() * 1000));
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions) {}

  /** The longest delay it gives. */
  get maxMs(): number {
    return this.opts.maxMs;
  }

  /** The next delay: uniformly random in [cap/2, cap], cap doubling up to maxMs. */
  next(): number {
    const cap = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    const r = (this.opts.random ?? Math.random)();
    return Math.round(cap / 2 + (cap / 2) * r);
  }

  reset(): void {
    this.attempt = 0;
  }
}
