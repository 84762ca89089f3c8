/**
 * The audit log's retention: entries older than `retentionDays` are deleted
 * at start-up and then every `sweepMs` (default hourly) by every replica —
 * a delete by age is idempotent, so replicas sharing a database need no
 * coordination. `retentionDays` 0 keeps entries for ever.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.js';
import { deleteAuditEntriesBefore } from './repository.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const DEFAULT_SWEEP_MS = 60 * 60 * 1000;

export class AuditRetention {
  private readonly timer: NodeJS.Timeout | null;
  private running: Promise<number> | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
    /** Days an entry is kept; 0: for ever. */
    readonly retentionDays: number,
    sweepMs = DEFAULT_SWEEP_MS,
  ) {
    this.timer = retentionDays > 0 ? setInterval(() => void this.prune(), sweepMs).unref() : null;
    if (this.timer) void this.prune();
  }

  /** Deletes what is past the retention period at `now`; says how many entries went (0 when kept for ever). */
  prune(now = Date.now()): Promise<number> {
    if (this.retentionDays <= 0) return Promise.resolve(0);
    const run = this.deleteBefore(new Date(now - this.retentionDays * DAY_MS).toISOString());
    this.running = run;
    return run;
  }

  private async deleteBefore(cutoff: string): Promise<number> {
    try {
      const deleted = await deleteAuditEntriesBefore(this.db, cutoff);
      if (deleted > 0) this.log.info({ deleted, retentionDays: this.retentionDays }, 'audit entries past retention deleted');
      return deleted;
    } catch (err) {
      this.log.warn({ err }, 'could not prune the audit log; retrying next round');
      return 0;
    }
  }

  /** Stops the sweep and waits for a prune in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
