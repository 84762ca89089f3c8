/**
 * The password check of a sign-in, guarded twice before any hashing: the
 * per-name lockout (sign-in-limiter.ts) counts the attempt first, then the
 * hash queue (hash-queue.ts) bounds how many hashes run, wait, and come from
 * one address. The verifier is injectable so tests can count hashes.
 */
import { DroverError } from '@drover/protocol';
import { HashQueue, SIGN_IN_RETRY_AFTER_SECONDS, type HashQueueOptions } from './hash-queue.js';
import { verifyPassword } from './passwords.js';
import { SignInLimiter } from './sign-in-limiter.js';

/** Checks a password against a stored hash (null: no such user, still costs a hash). */
export type PasswordVerifier = (password: string, stored: string | null) => Promise<boolean>;

/** A refusal before hashing, with how long the client should wait. */
export class SignInRefused extends DroverError {
  constructor(
    error: DroverError,
    readonly retryAfterSeconds: number,
  ) {
    super(error.code, error.message);
  }
}

export class SignInGate {
  private readonly limiter = new SignInLimiter();
  private readonly queue: HashQueue;

  constructor(
    options: HashQueueOptions,
    private readonly verify: PasswordVerifier = verifyPassword,
  ) {
    this.queue = new HashQueue(options);
  }

  /**
   * True when the password is right. Throws SignInRefused — having hashed
   * nothing — when the name is locked out or the address or queue is full.
   */
  async check(input: { name: string; password: string; stored: string | null; address: string }): Promise<boolean> {
    const { name } = input;
    if (!this.limiter.attempt(name)) {
      throw new SignInRefused(
        new DroverError('DROVER_ERR_TOO_MANY_ATTEMPTS', `too many failed sign-ins for ${JSON.stringify(name)}`),
        this.limiter.retryAfterSeconds(name),
      );
    }
    let ok: boolean;
    try {
      ok = await this.queue.run(input.address, () => this.verify(input.password, input.stored));
    } catch (err) {
      if (!(err instanceof DroverError) || (err.code !== 'DROVER_ERR_SIGN_IN_BUSY' && err.code !== 'DROVER_ERR_TOO_MANY_SIGN_INS')) throw err;
      this.limiter.release(name); // nothing was checked: the attempt does not count
      throw new SignInRefused(err, SIGN_IN_RETRY_AFTER_SECONDS);
    }
    if (ok && input.stored !== null) this.limiter.succeeded(name);
    return ok && input.stored !== null;
  }
}
