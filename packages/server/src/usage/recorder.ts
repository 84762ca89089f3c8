/**
 * Usage accounting, per workspace and UTC month: the peak of agents
 * connected at once (Drover's billing unit) and agent-hours. Every replica
 * runs one recorder; all counts come from the database, so replicas agree:
 *
 * - Peak: on the hub's `agents-changed` bus events (coalesced, one count
 *   per second at most, and paced so counting takes at most 2 % of the
 *   process: a count over 100,000 agents takes ~130 ms on SQLite, and every
 *   replica hears every change) the online agents of the workspaces
 *   concerned are counted and the month's peak raised if higher. Every
 *   sample raises it too.
 * - Agent-hours: every `sampleMs` (default 60 s) the online agents of every
 *   workspace are counted and `count × sampleMs` added for that sample slot
 *   — once, whichever replica gets there first (usage/repository.ts
 *   `addSlot`). An agent connected for less than a slot may be missed; over
 *   a month the error is at most one slot per connection. Every replica
 *   must use the same `sampleMs`.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Presence } from '../agents/repository.js';
import type { Bus } from '../bus/bus.js';
import { SerialJobs } from '../bus/serial-jobs.js';
import type { Database } from '../db/schema.js';
import { addSlot, monthOf, onlineCounts, raisePeak } from './repository.js';

export interface UsageOptions {
  readonly db: Kysely<Database>;
  readonly bus: Bus;
  readonly log: Logger;
  readonly presence: Presence;
  readonly sampleMs: number;
}

const PEAK_FLUSH_MS = 1000;
/** A count that took t ms waits 50 t before the next (SerialJobs `paceFactor`). */
const PEAK_PACE_FACTOR = 50;

export class UsageRecorder {
  private readonly sampleTimer: NodeJS.Timeout;
  private readonly jobs: SerialJobs;
  private readonly unsubscribe: () => void;
  private readonly log: Logger;

  constructor(private readonly opts: UsageOptions) {
    this.log = opts.log.child({ component: 'usage' });
    this.jobs = new SerialJobs({
      delayMs: PEAK_FLUSH_MS,
      paceFactor: PEAK_PACE_FACTOR,
      flush: (agentIds) => this.peaks(agentIds),
      onError: (err) => this.log.warn({ err }, 'usage could not be recorded; the next sample retries'),
    });
    this.unsubscribe = opts.bus.subscribe((event) => {
      if (event.kind === 'agents-changed') this.jobs.add(event.agentIds);
    });
    this.sampleTimer = setInterval(() => this.jobs.run(() => this.sample()), opts.sampleMs).unref();
  }

  private async peaks(agentIds: readonly string[]): Promise<void> {
    const { db } = this.opts;
    const workspaces = new Set<string>();
    for (let i = 0; i < agentIds.length; i += 500) {
      for (const r of await db
        .selectFrom('agents')
        .select('workspace_id')
        .distinct()
        .where('id', 'in', agentIds.slice(i, i + 500))
        .execute())
        workspaces.add(r.workspace_id);
    }
    const now = Date.now();
    for (const [ws, n] of await onlineCounts(db, this.opts.presence, [...workspaces])) await raisePeak(db, ws, monthOf(now), n, new Date(now).toISOString());
  }

  /** One sample slot: agent time added once across replicas, and the peaks raised. */
  async sample(): Promise<void> {
    const now = Date.now();
    const slot = Math.floor(now / this.opts.sampleMs);
    const month = monthOf(now);
    for (const [ws, n] of await onlineCounts(this.opts.db, this.opts.presence)) {
      await addSlot(this.opts.db, ws, month, slot, n * this.opts.sampleMs);
      await raisePeak(this.opts.db, ws, month, n, new Date(now).toISOString());
    }
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    clearInterval(this.sampleTimer);
    await this.jobs.stop();
  }
}
