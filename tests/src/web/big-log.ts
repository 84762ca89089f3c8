/**
 * A deployment with a very large log for the log-view test: lines stored
 * straight in the backend's database through @drover/server's own appendLog
 * (as an agent's frames would be, without the size limit), a thousand per
 * transaction, so 200,000 lines take seconds instead of an agent run.
 */
import type { LogLine } from '@drover/protocol';
import { appendLog, openDatabase } from '@drover/server';
import type { Backend } from '../support/drover.js';
import { databaseOptions } from './fleet.js';

/** The text of line `seq` of a big log. */
export function bigLogText(seq: number): string {
  return `building step ${String(seq).padStart(6, '0')}: compiling module ${seq % 97} of the big log`;
}

/** Stores `count` lines (seq 0 … count-1) in the log of deployment `id` of agent `agentId`. */
export async function storeBigLog(backend: Backend, agentId: string, id: string, count: number): Promise<void> {
  const database = await openDatabase(databaseOptions(backend));
  try {
    const time = new Date().toISOString();
    for (let from = 0; from < count; from += 1000) {
      const lines: LogLine[] = [];
      for (let seq = from; seq < Math.min(count, from + 1000); seq++)
        lines.push({ seq, time, stream: seq % 10 === 9 ? 'stderr' : 'stdout', text: bigLogText(seq) });
      if (!(await appendLog(database.db, agentId, id, lines, Number.MAX_SAFE_INTEGER))) throw new Error(`deployment ${id} is not agent ${agentId}'s`);
    }
  } finally {
    await database.close();
  }
}
