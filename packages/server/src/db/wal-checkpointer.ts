/**
 * Keeps the SQLite write-ahead log short without making a request wait for
 * it. SQLite's own automatic checkpoint runs inside the commit that crosses
 * its threshold: a 10,000-agent activation then waited 40–140 ms more, on
 * the event loop, for pages to be copied and the file synced. The server
 * checkpoints from a worker thread instead (wal-checkpoint-worker.ts), every
 * second, and leaves the connection's own automatic checkpoint in place at a
 * high threshold, in case that thread ever falls behind or stops.
 */
import { Worker } from 'node:worker_threads';
import type { Database as SqliteDatabase } from 'better-sqlite3';

export interface CheckpointerData {
  readonly file: string;
  readonly intervalMs: number;
}

export interface CheckpointerReport {
  readonly kind: 'failed';
  readonly message: string;
}

/** The commit that leaves more WAL pages than this checkpoints itself: only when the worker is far behind (40 MB of 4 KiB pages). */
const SAFETY_NET_PAGES = 10_000;

const REPEAT_TOLD_MS = 60_000;

/** SQLite's own threshold. */
const SQLITE_DEFAULT_PAGES = 1000;

export interface WalCheckpointer {
  /** Stops the thread; the connection's close then checkpoints what is left. */
  close(): Promise<void>;
}

/** Starts checkpointing `file` (opened as `sqlite`, in WAL mode) in the background; `onFailed` hears of a checkpoint that failed. */
export function startWalCheckpointer(sqlite: SqliteDatabase, file: string, onFailed: (message: string) => void, intervalMs = 1000): WalCheckpointer {
  sqlite.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
  const data: CheckpointerData = { file, intervalMs };
  const worker = new Worker(new URL('./wal-checkpoint-worker.js', import.meta.url), { workerData: data });
  worker.unref();
  // A failure that repeats every second (a full disk) is told once a minute.
  let told = { message: '', at: 0 };
  worker.on('message', (report: CheckpointerReport) => {
    const now = Date.now();
    if (report.message === told.message && now - told.at < REPEAT_TOLD_MS) return;
    told = { message: report.message, at: now };
    onFailed(report.message);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  // The thread's own failure (it could not open the file): the connection checkpoints itself again, as by default.
  worker.on('error', (err) => {
    onFailed(`the checkpoint thread stopped (${err.message}); commits checkpoint the log themselves from now on`);
    if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_PAGES}`);
  });
  return {
    close: () => {
      if (!exited) {
        worker.ref(); // kept alive until the thread has closed its connection
        worker.postMessage('close');
      }
      return exit;
    },
  };
}
