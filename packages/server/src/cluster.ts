/**
 * `drover server --workers N`: several server processes on one port
 * (node:cluster), so one machine can hold more agent sockets than one
 * process may have open files, on more than one core.
 *
 * The primary migrates the database once, forks the workers, relays the bus
 * between them (SQLite) and restarts a worker that dies. Each worker is an
 * ordinary replica: its own hub, its own agents, state in the shared
 * database. Workers re-run the same command line; `isClusterWorker()` tells
 * them apart.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { relayBus } from './bus/cluster-bus.js';
import { logConnectionLost, migrateToLatest, openDatabase, type DatabaseOptions } from './db/connect.js';
import { ensureDefaultWorkspace } from './workspaces/repository.js';

interface ListeningMessage {
  readonly drover: 'listening';
  readonly url: string;
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

  const fork = (): void => {
    const worker = cluster.fork({ DROVER_CLUSTER_WORKER: '1' });
    relayBus(live, worker);
    worker.on('message', (message: unknown) => {
      if ((message as ListeningMessage | undefined)?.drover !== 'listening') return;
      listening++;
      if (listening === options.workers) {
        everReady = true;
        resolveReady((message as ListeningMessage).url);
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
