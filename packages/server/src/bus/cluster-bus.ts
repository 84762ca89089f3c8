/**
 * The bus between the worker processes of one `drover server --workers N`
 * on SQLite: a worker sends each event to the primary over the cluster IPC
 * channel, and the primary hands it to every worker, the sender included.
 * (On PostgreSQL the workers use LISTEN/NOTIFY like any other replicas.)
 */
import type { Worker } from 'node:cluster';
import { Listeners, type Bus, type BusEvent, type BusListener } from './bus.js';

interface BusEnvelope {
  readonly drover: 'bus';
  readonly event: BusEvent;
}

export function isBusEnvelope(message: unknown): message is BusEnvelope {
  return typeof message === 'object' && message !== null && (message as { drover?: unknown }).drover === 'bus';
}

/** A worker's end of the bus. */
export class ClusterBus implements Bus {
  private readonly listeners = new Listeners();
  private readonly onMessage = (message: unknown) => {
    if (isBusEnvelope(message)) this.listeners.emit(message.event);
  };

  constructor() {
    if (!process.send) throw new Error('ClusterBus runs only in a cluster worker (no IPC channel)');
    process.on('message', this.onMessage);
  }

  async publish(event: BusEvent): Promise<void> {
    const envelope: BusEnvelope = { drover: 'bus', event };
    process.send!(envelope);
  }

  subscribe(listener: BusListener): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    process.off('message', this.onMessage);
  }
}

/** The primary's side: relays every bus envelope from one worker to all of them. */
export function relayBus(workers: () => Iterable<Worker>, from: Worker): void {
  from.on('message', (message: unknown) => {
    if (!isBusEnvelope(message)) return;
    for (const worker of workers()) if (worker.isConnected()) worker.send(message);
  });
}
