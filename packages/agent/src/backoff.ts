/**
 * Reconnect delays: capped exponential backoff with full jitter, so a
 * fleet that lost the server does not come back in one synchronized wave.
 */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly random?: () => number;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions) {}

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
