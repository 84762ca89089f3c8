/**
 * The jobs of a bus listener that reads the database (webhook detection,
 * usage accounting): run one after another, never overlapping, and ids from
 * many bus events coalesced into one job. Ids added while a flush is due join
 * it; the flush starts `delayMs` after the first of them, once the job before
 * it has finished. A failed job goes to `onError` and the next one still runs.
 * After `stop()` nothing new starts, and `stop()` waits for the running job.
 */

export interface SerialJobsOptions {
  /** How long ids gather before their flush. */
  readonly delayMs: number;
  /**
   * A flush that took `t` ms is followed by one at the earliest `paceFactor × t`
   * ms after it ended (and `delayMs` after the next ids came): a job whose cost
   * grows with the fleet (a count over every agent) then takes at most
   * 1 / paceFactor of the process however often ids arrive. Default 0 (no pacing).
   */
  readonly paceFactor?: number;
  /** The job for the gathered ids. */
  readonly flush: (ids: string[]) => Promise<void>;
  /** What a failed job (flush or `run`) does with its error: log it, mark a resync. */
  readonly onError: (err: unknown) => void;
}

export class SerialJobs {
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly gathered = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** When (Date.now()) the next flush may start at the earliest (paceFactor). */
  private notBefore = 0;

  constructor(private readonly opts: SerialJobsOptions) {}

  /** Runs `job` after the jobs queued before it. */
  run(job: () => Promise<void>): void {
    this.running = this.running.then(async () => {
      if (this.stopped) return;
      try {
        await job();
      } catch (err) {
        this.opts.onError(err);
      }
    });
  }

  /** Gathers ids for the next flush, and schedules it if none is due. */
  add(ids: Iterable<string>): void {
    for (const id of ids) this.gathered.add(id);
    if (this.stopped || this.timer || this.gathered.size === 0) return;
    const delayMs = Math.max(this.opts.delayMs, this.notBefore - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const batch = [...this.gathered];
      this.gathered.clear();
      this.run(async () => {
        const startedAt = Date.now();
        try {
          await this.opts.flush(batch);
        } finally {
          const endedAt = Date.now();
          this.notBefore = endedAt + (this.opts.paceFactor ?? 0) * (endedAt - startedAt);
        }
      });
    }, delayMs).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
