/**
 * Live logs over server-sent events, for one deployment or a whole
 * activation. The stream first replays what is stored, then follows: the
 * watcher pokes it when a deployment it shows changes on any replica, and a
 * slow poll covers a missed notification. It ends with an `end` event once
 * every deployment is final and its log is drained.
 *
 * However big a log is, a stream holds at most one page of it: lines are
 * read from the database a page at a time, and the next line is written only
 * once the socket took the previous ones (backpressure), so a slow reader
 * costs one page of memory, not the whole log.
 *
 * Events: `line` {deployment, agent, seq, time, stream, text};
 * `status` (a Deployment, when status or closure size changes); `end` {}.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isFinalStatus, LOG_EVENTS } from '@drover/protocol';
import type { Credential } from '../auth/access.js';
import type { ServerContext } from '../context.js';
import { openEventStream } from './sse.js';
import { getDeployments, logHeads, readLog, toDeploymentApi } from '../deployments/repository.js';

const POLL_MS = 5000;
/** Lines read from the database at a time (at most 4 MiB at 16 KiB a line). */
const PAGE_LINES = 256;

export interface LogStreamRequest {
  readonly ids: readonly string[];
  /** What the request authenticated with; the stream ends when it does. */
  readonly credential: Credential;
  /** For one deployment: resume after this seq (`?after=` or the Last-Event-ID of a reconnecting EventSource). */
  readonly resumeAfter?: number | undefined;
}

export function streamDeploymentLogs(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, what: LogStreamRequest): void {
  const { ids } = what;
  const lastSeq = new Map<string, number>(ids.map((id) => [id, ids.length === 1 ? (what.resumeAfter ?? -1) : -1]));
  const lastState = new Map<string, string>();
  const open = new Set(ids);
  let dirty = new Set<string>(ids);
  let pumping = false;
  const stream = openEventStream(ctx, request, reply, {
    credential: what.credential,
    onCleanup: () => {
      stopWatching();
      clearInterval(poll);
    },
  });
  const send = (event: string, data: unknown, id?: number) => stream.send(event, data, id);

  const pump = async (): Promise<void> => {
    if (pumping || stream.closed) return;
    pumping = true;
    try {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stream.closed turns true during the awaits in the loop; TypeScript keeps the narrowing from the check above
      while (dirty.size > 0 && !stream.closed) {
        const batch = [...dirty];
        dirty = new Set();
        // Status first: a final status read here means every line before it is already stored.
        const rows = await getDeployments(ctx.db, batch);
        const heads = await logHeads(ctx.db, batch);
        for (const row of rows) {
          // Only deployments whose log grew cost a read, so a poll of a big activation stays cheap.
          if (!(await sendLines(row.id, row.agent_name, heads.get(row.id) ?? -1))) return;
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

  /** Sends the stored lines of one deployment up to `head`, a page at a time, waiting whenever the socket is full; false once the stream closed. */
  const sendLines = async (id: string, agent: string, head: number): Promise<boolean> => {
    let after = lastSeq.get(id) ?? -1;
    while (head > after) {
      const lines = await readLog(ctx.db, id, after, PAGE_LINES);
      for (const l of lines) {
        if (!send(LOG_EVENTS.line, { deployment: id, agent, ...l }, l.seq)) await stream.drained();
        if (stream.closed) return false;
        after = l.seq;
        lastSeq.set(id, after);
      }
      if (lines.length < PAGE_LINES) break;
    }
    return !stream.closed;
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
