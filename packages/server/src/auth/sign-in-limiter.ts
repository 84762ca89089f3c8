/**
 * Slows down password guessing: after a few failed sign-ins for one user
 * name, further attempts are refused for a while. Per process; with several
 * replicas an attacker gets that many times the budget, still tiny next to
 * scrypt's cost per guess.
 */
const MAX_FAILURES = 5;
const WINDOW_MS = 60_000;

export class SignInLimiter {
  private readonly failures = new Map<string, { count: number; since: number }>();

  /** True when this name may try now. */
  allows(name: string, now = Date.now()): boolean {
    const entry = this.failures.get(name);
    if (!entry || now - entry.since > WINDOW_MS) return true;
    return entry.count < MAX_FAILURES;
  }

  failed(name: string, now = Date.now()): void {
    const entry = this.failures.get(name);
    if (!entry || now - entry.since > WINDOW_MS) this.failures.set(name, { count: 1, since: now });
    else entry.count += 1;
    if (this.failures.size > 10_000) this.prune(now);
  }

  succeeded(name: string): void {
    this.failures.delete(name);
  }

  private prune(now: number): void {
    for (const [name, entry] of this.failures) if (now - entry.since > WINDOW_MS) this.failures.delete(name);
  }
}
