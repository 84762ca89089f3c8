/**
 * When tokens were last used, recorded like agents' last-seen times: in
 * memory on each use, written in batches, so authenticating a request costs
 * no database write.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { chunks } from '../db/chunks.js';
import type { Database } from '../db/schema.js';
import { nowIso } from '../db/time.js';

export class TokenUsage {
  private used = new Set<string>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
    flushMs: number,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs).unref();
  }

  record(tokenId: string): void {
    this.used.add(tokenId);
  }

  async flush(): Promise<void> {
    if (this.used.size === 0) return;
    const ids = [...this.used];
    this.used = new Set();
    const now = nowIso();
    try {
      for (const part of chunks(ids)) await this.db.updateTable('tokens').set({ last_used_at: now }).where('id', 'in', part).execute();
    } catch (err) {
      this.log.warn({ err }, 'could not record token use; retrying next round');
      for (const id of ids) this.used.add(id);
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
