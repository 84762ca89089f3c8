/**
 * Slows down password guessing: after a few sign-in attempts for one user
 * name that did not succeed, further attempts are refused for a while.
 *
 * An attempt is counted when it starts, before its password is hashed, and
 * forgotten only when it succeeds: counting after the (asynchronous) scrypt
 * let parallel guesses all pass the check before any of them was counted.
 * Per process; with several replicas an attacker gets that many times the
 * budget, still tiny next to scrypt's cost per guess.
 */
const MAX_ATTEMPTS = 5;
const WINDOW_MS = 60_000;

export class SignInLimiter {
  private readonly attempts = new Map<string, { count: number; since: number }>();

  /**
   * Counts an attempt for this name and says whether it may go on: false
   * once MAX_ATTEMPTS unsuccessful (or still running) attempts fall in the
   * window. A refused attempt is not counted.
   */
  attempt(name: string, now = Date.now()): boolean {
    const entry = this.attempts.get(name);
    if (!entry || now - entry.since > WINDOW_MS) {
      this.attempts.set(name, { count: 1, since: now });
      if (this.attempts.size > 10_000) this.prune(now);
      return true;
    }
    if (entry.count >= MAX_ATTEMPTS) return false;
    entry.count += 1;
    return true;
  }

  /** Seconds until this name may try again (for Retry-After). */
  retryAfterSeconds(name: string, now = Date.now()): number {
    const entry = this.attempts.get(name);
    return entry ? Math.max(1, Math.ceil((entry.since + WINDOW_MS - now) / 1000)) : 1;
  }

  /** An attempt counted by `attempt` that was refused before its password was checked. */
  release(name: string): void {
    const entry = this.attempts.get(name);
    if (entry && entry.count > 0) entry.count -= 1;
  }

  /** The password was right: the name's count starts again. */
  succeeded(name: string): void {
    this.attempts.delete(name);
  }

  private prune(now: number): void {
    for (const [name, entry] of this.attempts) if (now - entry.since > WINDOW_MS) this.attempts.delete(name);
  }
}
