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
import { deploymentJson, getDeployments, logHeads, readLog } from '../deployments/repository.js';

const POLL_MS = 5000;
const HEARTBEAT_MS = 15000;

export function streamDeploymentLogs(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  ids: readonly string[],
): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const lastSeq = new Map<string, number>(ids.map((id) => [id, -1]));
  const lastState = new Map<string, string>();
  const open = new Set(ids);
  let dirty = new Set<string>(ids);
  let pumping = false;
  let closed = false;

  const send = (event: string, data: unknown) => {
    if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  const pump = async (): Promise<void> => {
    if (pumping || closed) return;
    pumping = true;
    try {
      while (dirty.size > 0 && !closed) {
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
            for (const l of lines) send(LOG_EVENTS.line, { deployment: row.id, agent: row.agent_name, ...l });
            if (lines.length === 0) break;
            after = lines[lines.length - 1]!.seq;
          }
          lastSeq.set(row.id, after);
          const state = `${row.status}|${row.closure_size ?? ''}`;
          if (lastState.get(row.id) !== state) {
            lastState.set(row.id, state);
            send(LOG_EVENTS.status, deploymentJson(row, ctx.publicUrl));
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
  // On shutdown, end the stream without an `end` event: clients reconnect to another replica.
  const stopOnClose = ctx.watcher.onClose(() => {
    cleanup();
    res.end();
  });
  const poll = setInterval(() => poke('all'), POLL_MS);
  const heartbeat = setInterval(() => !closed && res.write(': keepalive\n\n'), HEARTBEAT_MS);

  function finish(): void {
    if (closed) return;
    send(LOG_EVENTS.end, {});
    cleanup();
    res.end();
  }
  function cleanup(): void {
    closed = true;
    stopWatching();
    stopOnClose();
    clearInterval(poll);
    clearInterval(heartbeat);
  }
  request.raw.on('close', cleanup);
  void pump();
}
