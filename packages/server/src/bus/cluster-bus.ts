/**
 * The bus between the worker processes of one `drover server --workers N`
 * on SQLite: a worker sends each event to the primary over the cluster IPC
 * channel, and the primary hands it to every worker, the sender included.
 * (On PostgreSQL the workers use LISTEN/NOTIFY like any other replicas.)
 */
import type { Worker } from 'node:cluster';
import { decodeBusEvent, Listeners, type Bus, type BusEvent, type BusListener } from './bus.js';
import { clusterMessage } from '../cluster-message.js';

interface BusEnvelope {
  readonly drover: 'bus';
  readonly event: BusEvent;
}

/** The bus event an IPC message carries, or null when it carries none. */
function busEnvelopeEvent(message: unknown): BusEvent | null {
  const fields = clusterMessage(message, 'bus');
  return fields ? decodeBusEvent(fields['event']) : null;
}

/** A worker's end of the bus. */
export class ClusterBus implements Bus {
  private readonly listeners = new Listeners();
  private readonly onMessage = (message: unknown) => {
    const event = busEnvelopeEvent(message);
    if (event) this.listeners.emit(event);
  };

  private readonly send: (envelope: BusEnvelope) => boolean;

  constructor() {
    if (!process.send) throw new Error('ClusterBus runs only in a cluster worker (no IPC channel)');
    this.send = process.send.bind(process);
    process.on('message', this.onMessage);
  }

  async publish(event: BusEvent): Promise<void> {
    this.send({ drover: 'bus', event });
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
    const event = busEnvelopeEvent(message);
    if (!event) return;
    const envelope: BusEnvelope = { drover: 'bus', event };
    for (const worker of workers()) if (worker.isConnected()) worker.send(envelope);
  });
}
