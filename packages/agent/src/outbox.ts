/**
 * The agent's outbox: the journals of the deployments whose outcome the
 * server has not acknowledged yet.
 *
 * Each journal is read incrementally (only what was appended since the last
 * look) whether or not the agent is connected, so an outcome is noticed at
 * once; what is read is sent while the connection is registered. After every
 * (re)registration `replay()` sends every unacknowledged journal again from
 * its first line — events are idempotent on the server, and whatever the
 * previous connection lost is in there. `deployment.ack` (sent by the server
 * once it has stored an outcome) forgets that deployment for good.
 *
 * An outcome the agent decided itself but could not journal (its state
 * directory is full) is held in memory instead, sent like the journal's and
 * replayed after it until acknowledged. Failing to mark an acknowledged
 * deployment reported loses nothing: the journal stays, and after a restart
 * it is replayed and acknowledged again.
 */
import type { Logger } from 'pino';
import type { AgentMessage, DeploymentFinishedMessage } from '@drover/protocol/wire';
import { framesOf } from './frames.js';
import type { JournalEntry } from './journal/entry.js';
import { JournalReader } from './journal/reader.js';
import { files, markReported } from './state.js';
import { tryWrite } from './write-failure.js';

/** What the outbox needs of the server connection. */
export interface OutboxConnection {
  readonly isRegistered: boolean;
  /** False if the message could not be sent (the connection went away). */
  send(message: AgentMessage): boolean;
}

interface Pending {
  readonly id: string;
  readonly dir: string;
  readonly reader: JournalReader;
  outcome: DeploymentFinishedMessage | null;
  /** An outcome that is not in the journal (it could not be written): sent from memory. */
  held: DeploymentFinishedMessage | null;
}

export class Outbox {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly connection: OutboxConnection,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Follows the journal in `dir` of deployment `id` (from its order); reads what it holds already. */
  add(id: string, dir: string): void {
    this.follow(id, dir);
  }

  /**
   * Reports an outcome that could not be journaled: kept in memory and sent
   * until acknowledged — unless the journal already holds one, which wins.
   */
  hold(dir: string, outcome: DeploymentFinishedMessage): void {
    const pending = this.pending.get(outcome.id) ?? this.follow(outcome.id, dir);
    if (pending.outcome) return;
    pending.held = outcome;
    this.noteOutcome(pending, [outcome]);
    if (this.connection.isRegistered) this.connection.send(outcome);
  }

  private follow(id: string, dir: string): Pending {
    const reader = new JournalReader(files.events(dir), {
      deploymentId: id,
      onSkipped: (line, error) => this.log.warn({ deployment: id, line: line.slice(0, 200), error }, 'skipping an unreadable journal line'),
    });
    const pending: Pending = { id, dir, reader, outcome: null, held: null };
    this.pending.set(id, pending);
    this.pumpOne(pending);
    return pending;
  }

  /** Whether the deployment is followed (not acknowledged yet). */
  has(id: string): boolean {
    return this.pending.has(id);
  }

  /** The outcome the deployment's journal holds, or null (none yet, or not in the outbox). */
  outcome(id: string): DeploymentFinishedMessage | null {
    return this.pending.get(id)?.outcome ?? null;
  }

  /** After a (re)registration: sends every unacknowledged journal again from its start; returns their deployment ids. */
  replay(): string[] {
    for (const pending of this.pending.values()) pending.reader.rewind();
    this.pump();
    for (const { held } of this.pending.values()) if (held && !this.connection.send(held)) break;
    return [...this.pending.keys()];
  }

  /** Reads what every journal gained since the last look, and sends it if registered. */
  pump(): void {
    for (const pending of this.pending.values()) this.pumpOne(pending);
  }

  /** The same for one deployment; returns its outcome if it has one now. */
  refresh(id: string): DeploymentFinishedMessage | null {
    const pending = this.pending.get(id);
    if (pending) this.pumpOne(pending);
    return this.outcome(id);
  }

  /** The server stored the outcome: forget the deployment. False (kept) if it has no outcome here yet. */
  acknowledge(id: string): boolean {
    const pending = this.pending.get(id);
    if (!pending?.outcome) return false;
    this.pending.delete(id);
    const failure = tryWrite(() => markReported(pending.dir));
    if (failure !== null) {
      this.log.warn(
        { deployment: id, error: failure.message },
        'the server stored the outcome, but it could not be marked reported here; it will be replayed (and acknowledged again) after a restart',
      );
    }
    return true;
  }

  private pumpOne(pending: Pending): void {
    // A failed send means the connection went away; the next registration replays from the start.
    let sending = this.connection.isRegistered;
    pending.reader.drain((entries) => {
      this.noteOutcome(pending, entries);
      if (sending) sending = this.send(entries);
    });
  }

  private noteOutcome(pending: Pending, entries: readonly JournalEntry[]): void {
    if (pending.outcome) return;
    for (const entry of entries) {
      if (entry.type !== 'deployment.finished') continue;
      pending.outcome = entry;
      this.log.info({ deployment: pending.id, status: entry.status, reason: entry.reason }, 'deployment finished');
      return;
    }
  }

  private send(entries: readonly JournalEntry[]): boolean {
    for (const frame of framesOf(entries)) if (!this.connection.send(frame)) return false;
    return true;
  }
}
