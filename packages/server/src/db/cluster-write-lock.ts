/**
 * SQLite's one write lock, shared by the workers of `drover server
 * --workers N` without blocking their event loops.
 *
 * SQLite lets one connection write at a time; another that wants to write
 * waits in its busy handler, which sleeps inside the (synchronous) statement
 * and so stops that whole process: no handshake, ping or frame is served
 * while it sleeps, and it sleeps on after the lock is free (the handler
 * polls, 1 ms up to 100 ms apart). Under a reconnect storm six workers spent
 * most of their time asleep this way. Here a worker first asks the primary
 * for the lock over the cluster IPC channel and waits for the grant as a
 * promise; the primary grants it to one worker at a time, in the order
 * asked, and takes it back from a worker that exits. SQLite's own lock and
 * busy_timeout stay underneath for every other process on the file (a
 * `drover admin` command).
 */
import { clusterMessage } from '../cluster-message.js';

/** Gives the lock back; calling it again does nothing. */
export type ReleaseWriteLock = () => void;

/** Who may write to the SQLite file now (the driver asks before a write, connect.ts). */
export interface WriteLock {
  acquire(): Promise<ReleaseWriteLock>;
}

export interface WriteLockMessage {
  readonly drover: 'write-lock';
  /** worker → primary: acquire, release (also of a request given up); primary → worker: granted. */
  readonly op: 'acquire' | 'release' | 'granted';
  readonly id: number;
}

function isWriteLockMessage(message: unknown): message is WriteLockMessage {
  const fields = clusterMessage(message, 'write-lock');
  const op = fields?.['op'];
  return (op === 'acquire' || op === 'release' || op === 'granted') && Number.isSafeInteger(fields?.['id']);
}

/** What SQLite's busy handler fails with after busy_timeout, so callers treat a long wait as they treat SQLITE_BUSY. */
class WriteLockTimeout extends Error {
  readonly code = 'SQLITE_BUSY';
  constructor(waitedMs: number) {
    super(`database is locked: another server worker held the SQLite write lock for ${waitedMs} ms`);
  }
}

/** A worker's IPC channel to the primary: `process` in a cluster worker. */
export interface IpcChannel {
  send?: ((message: WriteLockMessage) => boolean) | undefined;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/** A worker's end: asks the primary, waits at most `timeoutMs` (as busy_timeout) for the grant. */
export class ClusterWriteLock implements WriteLock {
  private nextId = 0;
  private readonly waiting = new Map<number, () => void>();
  private readonly send: (message: WriteLockMessage) => boolean;
  private readonly onMessage = (message: unknown): void => {
    if (!isWriteLockMessage(message) || message.op !== 'granted') return;
    const grant = this.waiting.get(message.id);
    if (grant) grant();
    // Granted after this side gave up waiting: hand it straight back.
    else this.send({ drover: 'write-lock', op: 'release', id: message.id });
  };

  constructor(
    private readonly timeoutMs: number,
    private readonly channel: IpcChannel = process,
  ) {
    if (!channel.send) throw new Error('ClusterWriteLock runs only in a cluster worker (no IPC channel)');
    this.send = channel.send.bind(channel);
    channel.on('message', this.onMessage);
  }

  acquire(): Promise<ReleaseWriteLock> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        this.send({ drover: 'write-lock', op: 'release', id });
        reject(new WriteLockTimeout(this.timeoutMs));
      }, this.timeoutMs);
      this.waiting.set(id, () => {
        clearTimeout(timer);
        this.waiting.delete(id);
        let held = true;
        resolve(() => {
          if (!held) return;
          held = false;
          this.send({ drover: 'write-lock', op: 'release', id });
        });
      });
      this.send({ drover: 'write-lock', op: 'acquire', id });
    });
  }

  close(): void {
    this.channel.off('message', this.onMessage);
  }
}

interface Claim {
  readonly worker: LockingWorker;
  readonly id: number;
}

/** What the primary needs of a worker (node:cluster's Worker). */
interface LockingWorker {
  on(event: 'message' | 'exit', listener: (message: unknown) => void): unknown;
  send(message: WriteLockMessage): boolean;
  isConnected(): boolean;
}

/** The primary's end: one holder, the others queued first come first served. */
export class WriteLockGranter {
  private holder: Claim | null = null;
  private queue: Claim[] = [];

  /** Serves `worker`'s requests, and frees what it held or asked for when it exits. */
  attach(worker: LockingWorker): void {
    worker.on('message', (message: unknown) => {
      if (!isWriteLockMessage(message)) return;
      if (message.op === 'acquire') this.request({ worker, id: message.id });
      else if (message.op === 'release') this.release((c) => c.worker === worker && c.id === message.id);
    });
    worker.on('exit', () => this.release((c) => c.worker === worker));
  }

  private request(claim: Claim): void {
    this.queue.push(claim);
    this.grantNext();
  }

  /** Drops the matching waiters, and the holder if it matches. */
  private release(matches: (claim: Claim) => boolean): void {
    this.queue = this.queue.filter((claim) => !matches(claim));
    if (this.holder && matches(this.holder)) this.holder = null;
    this.grantNext();
  }

  private grantNext(): void {
    while (this.holder === null) {
      const next = this.queue.shift();
      if (!next) return;
      if (!next.worker.isConnected()) continue;
      this.holder = next;
      next.worker.send({ drover: 'write-lock', op: 'granted', id: next.id } satisfies WriteLockMessage);
    }
  }
}
