/**
 * `drover server --workers N`: each worker takes its share of the agent
 * sockets.
 *
 * The workers accept connections themselves (node:cluster's `SCHED_NONE`,
 * cluster.ts). With node:cluster's round robin the primary accepted every
 * connection and held it until a worker took it, one hand-over over IPC at a
 * time: a fleet reconnecting at once left the primary holding as many
 * connections as its open-files limit allowed, and libuv then closed new ones
 * unanswered (`socket hang up`; bench/README.md, sixth and eleventh passes).
 * The kernel, though, gives a connection to whichever worker asks first, not
 * to the least loaded one. So each worker reports how many agent sockets it
 * holds (every `REPORT_MS`), the primary tells every worker what the others
 * hold, and a worker holding more than the average plus a slack
 * (`takesOneMore`) refuses a new agent with 503 and a short Retry-After
 * (http/routes/agent-admission.ts): the agent comes back, and most likely
 * another worker takes it. By the average, not the fewest: in a reconnect
 * storm the worker that holds SQLite's write lock the longest lags, and the
 * rest would have turned agents away for it. The counts decide alone: an
 * agent that waited in a worker's queue is refused there too when that
 * worker holds more than its share. Taking those whatever the counts (as
 * the fifteenth pass did, to spare their wait) let the workers the kernel
 * favoured fill up to their open-files cap in a storm, close new connections
 * unanswered, and hold the storm's tail for minutes (bench/README.md,
 * seventeenth pass). A worker that
 * stopped reporting (its event loop stuck) is left out of the others, so it
 * cannot keep the rest refusing.
 */
import { clusterMessage } from './cluster-message.js';

/** How often a worker reports its count, and the primary passes the counts on. */
const REPORT_MS = 250;
/** A worker silent for longer is left out of the others' counts. */
export const STALE_MS = 2_000;
/** How far past the average a worker still takes agents: this fraction of the average, at least `least`. */
const SLACK = { least: 1, fraction: 0.1 } as const;

/** A worker's report to the primary: how many agent sockets it holds. */
interface CountReport {
  readonly drover: 'agent-sockets';
  readonly count: number;
}

/** The primary's word to a worker: how many agent sockets each of the other live workers holds. */
interface OthersCounts {
  readonly drover: 'agent-sockets-elsewhere';
  readonly counts: readonly number[];
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function countReport(message: unknown): number | null {
  const count = clusterMessage(message, 'agent-sockets')?.['count'];
  return isCount(count) ? count : null;
}

function othersCounts(message: unknown): number[] | null {
  const counts = clusterMessage(message, 'agent-sockets-elsewhere')?.['counts'];
  return Array.isArray(counts) && counts.every(isCount) ? counts : null;
}

/**
 * Whether a worker holding `own` agent sockets takes one more while the other workers hold `others`: yes unless it
 * holds the average plus the slack (a tenth of the average, at least one) or more. The worker with the fewest holds
 * no more than the average, so some worker always takes one.
 */
export function takesOneMore(own: number, others: readonly number[]): boolean {
  if (others.length === 0) return true;
  let sum = own;
  for (const n of others) sum += n;
  const average = sum / (others.length + 1);
  return own < average + Math.max(SLACK.least, Math.ceil(average * SLACK.fraction));
}

/** The IPC channel of a worker process (`process`), as far as the share uses it. */
export interface WorkerChannel {
  send?: ((message: CountReport) => boolean) | undefined;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/** A worker's side: reports its count and knows the others'. */
export class WorkerShare {
  private others: readonly number[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly onMessage = (message: unknown): void => {
    const counts = othersCounts(message);
    if (counts) this.others = counts;
  };

  /** `count`: the agent sockets this worker holds now. */
  constructor(
    private readonly count: () => number,
    private readonly channel: WorkerChannel = process,
  ) {
    channel.on('message', this.onMessage);
    // The first report after REPORT_MS, not here: `count` may read what is built after this share.
    this.timer = setInterval(() => this.report(), REPORT_MS).unref();
  }

  /** Whether this worker takes one more agent socket now, by the counts. */
  admits(): boolean {
    return takesOneMore(this.count(), this.others);
  }

  private report(): void {
    // The channel closes when the primary goes: then there is no one to tell.
    this.channel.send?.({ drover: 'agent-sockets', count: this.count() });
  }

  close(): void {
    clearInterval(this.timer);
    this.channel.off('message', this.onMessage);
  }
}

/** A worker as the primary sees it (node:cluster's Worker), as far as the share uses it. */
export interface SharingWorker {
  readonly id: number;
  isConnected(): boolean;
  send(message: OthersCounts): unknown;
  on(event: 'message' | 'exit', listener: (message: unknown) => void): unknown;
}

/** The primary's side: gathers the workers' counts and tells each worker the others' fresh ones. */
export class SocketCounts {
  private readonly workers = new Map<number, { worker: SharingWorker; count: number | null; at: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.timer = setInterval(() => this.tell(), REPORT_MS).unref();
  }

  attach(worker: SharingWorker): void {
    this.workers.set(worker.id, { worker, count: null, at: 0 });
    worker.on('message', (message: unknown) => {
      const count = countReport(message);
      const entry = this.workers.get(worker.id);
      if (count !== null && entry) Object.assign(entry, { count, at: this.now() });
    });
    worker.on('exit', () => this.workers.delete(worker.id));
  }

  /** Sends each connected worker the counts the others reported within `STALE_MS`. */
  tell(): void {
    const since = this.now() - STALE_MS;
    for (const [id, { worker }] of this.workers) {
      if (!worker.isConnected()) continue;
      const counts: number[] = [];
      for (const [other, entry] of this.workers) if (other !== id && entry.count !== null && entry.at >= since) counts.push(entry.count);
      const message: OthersCounts = { drover: 'agent-sockets-elsewhere', counts };
      worker.send(message);
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
