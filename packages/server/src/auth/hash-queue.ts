/**
 * Bounds concurrent password hashing. scrypt runs on libuv's thread pool,
 * which file reads (NAR and asset downloads) share: an unbounded flood of
 * sign-ins would fill every thread and stall all file I/O. At most
 * `concurrency` hashes run at a time (default: half the pool), at most
 * `queueLength` more wait, and one client address may have at most
 * `perAddress` sign-ins waiting or running; past that a sign-in is refused
 * at once with a code and a Retry-After, without hashing anything.
 */
import { DroverError } from '@drover/protocol';

export interface HashQueueOptions {
  /** Hashes running at once. */
  readonly concurrency: number;
  /** Sign-ins waiting for a hashing slot; past it DROVER_ERR_SIGN_IN_BUSY (503). */
  readonly queueLength: number;
  /** Sign-ins of one client address waiting or running; past it DROVER_ERR_TOO_MANY_SIGN_INS (429). */
  readonly perAddress: number;
}

/** libuv's thread pool size: UV_THREADPOOL_SIZE, 4 when unset. */
function threadPoolSize(env: NodeJS.ProcessEnv): number {
  const n = Number(env['UV_THREADPOOL_SIZE']);
  return Number.isInteger(n) && n > 0 ? n : 4;
}

/** The defaults: half the thread pool hashing (at least one), 32 waiting, 4 per address. */
export function defaultHashQueueOptions(env: NodeJS.ProcessEnv = process.env): HashQueueOptions {
  return { concurrency: Math.max(1, Math.floor(threadPoolSize(env) / 2)), queueLength: 32, perAddress: 4 };
}

/** Seconds a refused client is told to wait (the Retry-After header). */
export const SIGN_IN_RETRY_AFTER_SECONDS = 1;

export class HashQueue {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly byAddress = new Map<string, number>();

  constructor(readonly options: HashQueueOptions) {}

  /**
   * Runs `job` (a password check) when a slot is free. Throws at once —
   * before `job` is called — when the address or the queue is full.
   */
  async run<T>(address: string, job: () => Promise<T>): Promise<T> {
    const mine = this.byAddress.get(address) ?? 0;
    if (mine >= this.options.perAddress) {
      throw new DroverError(
        'DROVER_ERR_TOO_MANY_SIGN_INS',
        `${mine} sign-ins from ${address} are already in progress; retry in ${SIGN_IN_RETRY_AFTER_SECONDS} s`,
      );
    }
    if (this.running >= this.options.concurrency && this.waiting.length >= this.options.queueLength) {
      throw new DroverError(
        'DROVER_ERR_SIGN_IN_BUSY',
        `the server is busy checking ${this.running + this.waiting.length} sign-ins; retry in ${SIGN_IN_RETRY_AFTER_SECONDS} s`,
      );
    }
    this.byAddress.set(address, mine + 1);
    try {
      if (this.running >= this.options.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
      else this.running += 1;
      try {
        return await job();
      } finally {
        // The slot passes to the next waiter as is, or is given back.
        const next = this.waiting.shift();
        if (next) next();
        else this.running -= 1;
      }
    } finally {
      const left = (this.byAddress.get(address) ?? 1) - 1;
      if (left > 0) this.byAddress.set(address, left);
      else this.byAddress.delete(address);
    }
  }

  /** Hashes running and sign-ins waiting (for tests and metrics). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
