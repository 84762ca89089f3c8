/**
 * The worker thread of wal-checkpointer.ts: its own connection to the
 * SQLite file, copying the write-ahead log back into the database every
 * `intervalMs` (a PASSIVE checkpoint: it never waits for, nor blocks, a
 * reader or writer). It reports a failed checkpoint (a full disk, say) to the
 * server's thread and goes on; the next one may succeed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import type { CheckpointerData, CheckpointerReport } from './wal-checkpointer.js';

const { file, intervalMs } = workerData as CheckpointerData;
const report = (message: CheckpointerReport): void => parentPort?.postMessage(message);
const db = new SQLite(file, { fileMustExist: true });

setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    report({ kind: 'failed', message: err instanceof Error ? err.message : String(err) });
  }
}, intervalMs);
parentPort?.on('message', (message: unknown) => {
  if (message === 'close') {
    db.close();
    process.exit(0);
  }
});
