/**
 * A deployment's journal (`STATE/deployments/<id>/events.ndjson`): one JSON
 * line per event, each line the agent→server `deployment.*` message itself,
 * carrying the deployment id. The runner appends; the agent forwards the
 * lines as they are (log lines batched into bigger frames).
 */
import { appendFileSync } from 'node:fs';
import type { AgentMessage, AgentProblemsMessage, DeploymentFinishedMessage, HelloMessage, OutcomeStatus } from '@drover/protocol/wire';
import { files } from '../state.js';

/** What a journal line holds: any agent→server message but `hello`. */
export type JournalEntry = Exclude<AgentMessage, HelloMessage | AgentProblemsMessage>;

/** Appends one entry as one line (a single write, so a crash leaves at most a torn last line). */
export function appendEntry(dir: string, entry: JournalEntry): void {
  appendFileSync(files.events(dir), JSON.stringify(entry) + '\n', { mode: 0o600 });
}

/** The outcome entry, stamped now. */
export function finishedEntry(id: string, status: OutcomeStatus, reason: string | null, activePath: string | null): DeploymentFinishedMessage {
  return { type: 'deployment.finished', id, time: new Date().toISOString(), status, reason, activePath };
}
