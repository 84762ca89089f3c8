/**
 * Live logs over server-sent events, for one deployment or a whole
 * activation. The stream first replays what is stored, then follows: the
 * watcher pokes it when a deployment it shows changes on any replica, and a
 * slow poll covers a missed notification. It ends with an `end` event once
 * every deployment is final and its log is drained.
 *
 * Events: `line` {deployment, agent, seq, time, stream, text};
 * `status` (a Deployment, when status or closure size changes); `end` {}.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isFinalStatus, LOG_EVENTS } from '@drover/protocol';
import type { ServerContext } from '../context.js';
import { openEventStream } from './sse.js';
import { getDeployments, logHeads, readLog, toDeploymentApi } from '../deployments/repository.js';

const POLL_MS = 5000;

export function streamDeploymentLogs(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  ids: readonly string[],
  /** For one deployment: resume after this seq (`?after=` or the Last-Event-ID of a reconnecting EventSource). */
  resumeAfter = -1,
): void {
  const lastSeq = new Map<string, number>(ids.map((id) => [id, ids.length === 1 ? resumeAfter : -1]));
  const lastState = new Map<string, string>();
  const open = new Set(ids);
  let dirty = new Set<string>(ids);
  let pumping = false;
  const stream = openEventStream(ctx, request, reply, () => {
    stopWatching();
    clearInterval(poll);
  });
  const send = (event: string, data: unknown, id?: number) => stream.send(event, data, id);

  const pump = async (): Promise<void> => {
    if (pumping || stream.closed) return;
    pumping = true;
    try {
      while (dirty.size > 0 && !stream.closed) {
        const batch = [...dirty];
        dirty = new Set();
        // Status first: a final status read here means every line before it is already stored.
        const rows = await getDeployments(ctx.db, batch);
        const heads = await logHeads(ctx.db, batch);
        for (const row of rows) {
          let after = lastSeq.get(row.id) ?? -1;
          // Only deployments whose log grew cost a read, so a poll of a big activation stays cheap.
          while ((heads.get(row.id) ?? -1) > after) {
            const lines = await readLog(ctx.db, row.id, after);
            for (const l of lines) send(LOG_EVENTS.line, { deployment: row.id, agent: row.agent_name, ...l }, l.seq);
            if (lines.length === 0) break;
            after = lines[lines.length - 1]!.seq;
          }
          lastSeq.set(row.id, after);
          const state = `${row.status}|${row.closure_size ?? ''}`;
          if (lastState.get(row.id) !== state) {
            lastState.set(row.id, state);
            send(LOG_EVENTS.status, toDeploymentApi(row, ctx.publicUrl));
          }
          if (isFinalStatus(row.status)) open.delete(row.id);
        }
      }
      if (open.size === 0) finish();
    } catch (err) {
      request.log.warn({ err }, 'log stream failed');
      finish();
    } finally {
      pumping = false;
    }
  };

  const poke = (changed: readonly string[] | 'all') => {
    for (const id of changed === 'all' ? open : changed) if (open.has(id)) dirty.add(id);
    void pump().then(() => (dirty.size > 0 ? pump() : undefined));
  };

  const stopWatching = ctx.watcher.watch(ids, poke);
  const poll = setInterval(() => poke('all'), POLL_MS);

  function finish(): void {
    if (stream.closed) return;
    send(LOG_EVENTS.end, {});
    stream.end();
  }
  void pump();
}
