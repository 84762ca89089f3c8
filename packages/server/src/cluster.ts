/**
 * `drover server --workers N`: several server processes on one port
 * (node:cluster), so one machine can hold more agent sockets than one
 * process may have open files, on more than one core.
 *
 * The primary migrates the database once, forks the workers, relays the bus
 * between them and grants SQLite's write lock to one at a time (SQLite:
 * db/cluster-write-lock.ts), passes on how many agents each worker holds
 * (the workers accept connections themselves and balance by it:
 * cluster-share.ts), restarts a worker that dies, and gathers the
 * workers' metrics for the one a scrape reached (`clusterMetrics`: a
 * Prometheus scrape of the shared port sees the whole server). Each worker is an
 * ordinary replica: its own hub, its own agents, state in the shared
 * database. Workers re-run the same command line; `isClusterWorker()` tells
 * them apart.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, type PrometheusContentType } from 'prom-client';
import { DroverError } from '@drover/protocol';
import { relayBus } from './bus/cluster-bus.js';
import { logConnectionLost, migrateToLatest, openDatabase, type DatabaseOptions } from './db/connect.js';
import { ensureDefaultWorkspace } from './workspaces/repository.js';
import { WriteLockGranter } from './db/cluster-write-lock.js';
import { SocketCounts } from './cluster-share.js';
import { clusterMessage } from './cluster-message.js';

interface ListeningMessage {
  readonly drover: 'listening';
  readonly url: string;
}

/** A worker asks the primary for every worker's metrics, aggregated. */
interface MetricsRequest {
  readonly drover: 'metrics-request';
  readonly id: number;
}

/** The primary's answer: the exposition text, or why there is none. */
interface MetricsResponse {
  readonly drover: 'metrics-response';
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

/** Longer than prom-client's own 5 s wait for the workers' answers. */
const METRICS_TIMEOUT_MS = 8_000;
let metricsRequests = 0;

function isMessage<T extends { drover: string }>(message: unknown, kind: T['drover']): message is T {
  return clusterMessage(message, kind) !== null;
}

/**
 * In a worker: the whole server's metrics, every worker's registry summed
 * by the primary (prom-client's AggregatorRegistry). Fails with
 * DROVER_ERR_UNAVAILABLE when the primary does not answer in time: a partial
 * scrape would look like a drop in every counter.
 */
export function clusterMetrics(): Promise<string> {
  const send = process.send?.bind(process);
  if (!send) return Promise.reject(new DroverError('DROVER_ERR_INTERNAL', 'cluster metrics asked outside a cluster worker'));
  const id = metricsRequests++;
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, text?: string) => {
      clearTimeout(timer);
      process.off('message', onMessage);
      if (err) reject(err);
      else resolve(text ?? '');
    };
    const onMessage = (message: unknown) => {
      if (!isMessage<MetricsResponse>(message, 'metrics-response') || message.id !== id) return;
      if (message.text === undefined)
        done(new DroverError('DROVER_ERR_UNAVAILABLE', `the server's workers could not be asked for their metrics: ${message.error ?? 'no answer'}`));
      else done(null, message.text);
    };
    const timer = setTimeout(
      () => done(new DroverError('DROVER_ERR_UNAVAILABLE', `the primary process did not gather the workers' metrics within ${METRICS_TIMEOUT_MS} ms`)),
      METRICS_TIMEOUT_MS,
    );
    process.on('message', onMessage);
    const request: MetricsRequest = { drover: 'metrics-request', id };
    send(request);
  });
}

/** The primary's side of `clusterMetrics`: answers a worker's request with every live worker's metrics, aggregated. */
function answerMetrics(aggregator: AggregatorRegistry<PrometheusContentType>, worker: Worker, log: Logger): void {
  worker.on('message', (message: unknown) => {
    if (!isMessage<MetricsRequest>(message, 'metrics-request')) return;
    const reply = (answer: Omit<MetricsResponse, 'drover' | 'id'>) => {
      const response: MetricsResponse = { drover: 'metrics-response', id: message.id, ...answer };
      if (worker.isConnected()) worker.send(response);
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (err: unknown) => {
        log.warn({ err }, "gathering the workers' metrics failed");
        reply({ error: err instanceof Error ? err.message : String(err) });
      },
    );
  });
}

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/** Called by a worker once it listens, so the primary can report readiness. */
export function reportListening(url: string): void {
  const message: ListeningMessage = { drover: 'listening', url };
  process.send?.(message);
}

export interface ClusterHandle {
  /** Resolves with the URL once every worker listens. */
  readonly ready: Promise<string>;
  close(): Promise<void>;
}

export async function startCluster(options: { workers: number; database: DatabaseOptions; log: Logger }): Promise<ClusterHandle> {
  const { log } = options;
  const database = await openDatabase({ ...options.database, onConnectionError: (err) => logConnectionLost(log, err) });
  try {
    await migrateToLatest(database);
    await ensureDefaultWorkspace(database.db);
  } finally {
    await database.close();
  }
  let stopping = false;
  const live = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
  let listening = 0;
  let resolveReady!: (url: string) => void;
  let rejectReady!: (err: Error) => void;
  const ready = new Promise<string>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  let everReady = false;
  const aggregator = new AggregatorRegistry<PrometheusContentType>();
  const writeLock = new WriteLockGranter();
  // Each worker accepts its connections itself, not through the primary (cluster-share.ts says why); set before the first fork.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const counts = new SocketCounts();

  const fork = (): void => {
    const worker = cluster.fork({ DROVER_CLUSTER_WORKER: '1' });
    // A send on a channel that just closed (a worker dying) is told as an 'error' on its Worker: without a listener it would end the primary.
    worker.on('error', (err: Error) => log.warn({ err, pid: worker.process.pid }, 'IPC with a server worker failed'));
    relayBus(live, worker);
    writeLock.attach(worker);
    counts.attach(worker);
    answerMetrics(aggregator, worker, log);
    worker.on('message', (message: unknown) => {
      if (!isMessage<ListeningMessage>(message, 'listening')) return;
      listening++;
      if (listening === options.workers) {
        everReady = true;
        resolveReady(message.url);
      }
    });
    worker.on('exit', (code: number, signal: string | null) => {
      if (stopping) return;
      if (!everReady) {
        rejectReady(new Error(`a server worker exited during start-up (${signal ?? `code ${code}`}); see its log above`));
        return;
      }
      log.error({ pid: worker.process.pid, code, signal }, 'server worker died; starting a new one');
      setTimeout(() => !stopping && fork(), 1000).unref();
    });
  };
  for (let i = 0; i < options.workers; i++) fork();

  return {
    ready,
    close: async () => {
      stopping = true;
      counts.close();
      const exits = live().map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      );
      await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 12_000).unref())]);
      for (const w of live()) if (!w.isDead()) w.process.kill('SIGKILL');
    },
  };
}
