/**
 * The log of one deployment for a Cachix `activate` (`…/deploy/log/ID?view=true`):
 * the stored lines first, then the new ones as they are stored, one
 * `{line, time}` frame each. Cachix stops reading at the first line that
 * starts with "Successfully activated the deployment" or "Failed to activate
 * the deployment", and otherwise waits for the socket to close, so once the
 * deployment is final and its log drained the socket is closed — after
 * sending such a line when the log has none (a Drover agent's log, or a
 * Cachix one cut short).
 */
import type { WebSocket } from '@fastify/websocket';
import { isFinalStatus } from '@drover/protocol';
import type { ServerContext } from '../context.js';
import { getDeployments, readLog } from '../deployments/repository.js';
import { ACTIVATION_END_PREFIXES, endsActivationLog, logFrame } from './wire.js';

/** A missed notification costs at most this long. */
const POLL_MS = 2000;
/** How long a final deployment's log may still grow (its lines come on another socket than its outcome). */
const DRAIN_GRACE_MS = 3000;
const PAGE_LINES = 256;
/** Bytes buffered on the socket before the next page waits. */
const HIGH_WATER = 1024 * 1024;

export function watchLog(ctx: ServerContext, socket: WebSocket, id: string): void {
  let after = -1;
  let endSent = false;
  let finalAt: number | null = null;
  let pumping = false;
  /** A change arrived while a pass ran (read through a function: the pass's awaits change it). */
  let again = false;
  const changedMeanwhile = () => again;
  let closed = false;

  /** Sends what is stored after the last line sent; closes once the deployment is final and its log drained. */
  const pass = async (): Promise<void> => {
    // Status first: a final status read here means every line the outcome came after is stored.
    const [row] = await getDeployments(ctx.db, [id]);
    if (!row) {
      end('the deployment no longer exists');
      return;
    }
    for (;;) {
      const lines = await readLog(ctx.db, id, after, PAGE_LINES);
      for (const l of lines) {
        if (closed) return;
        socket.send(logFrame(l.text, l.time));
        after = l.seq;
        if (endsActivationLog(l.text)) endSent = true;
      }
      while (!closed && socket.bufferedAmount > HIGH_WATER) await new Promise((r) => setTimeout(r, 50));
      if (lines.length < PAGE_LINES) break;
    }
    if (!isFinalStatus(row.status)) return;
    finalAt ??= Date.now();
    if (!endSent && Date.now() - finalAt < DRAIN_GRACE_MS) {
      setTimeout(() => void pump(), DRAIN_GRACE_MS).unref();
      return;
    }
    if (!endSent) {
      const text =
        row.status === 'Succeeded'
          ? `${ACTIVATION_END_PREFIXES.succeeded} (Drover: ${row.status})`
          : `${ACTIVATION_END_PREFIXES.failed} (Drover: ${row.status}${row.reason ? `: ${row.reason}` : ''})`;
      socket.send(logFrame(text, row.finished_at ?? new Date().toISOString()));
    }
    end('the deployment finished');
  };

  /** One pass at a time; a change during a pass is followed by one more. */
  const pump = async (): Promise<void> => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    again = false;
    try {
      await pass();
    } catch (err) {
      ctx.log.warn({ err, deployment: id }, 'Cachix log view failed');
      end('server error');
    } finally {
      pumping = false;
      if (changedMeanwhile() && !closed) void pump();
    }
  };

  function end(reason: string): void {
    if (closed) return;
    closed = true;
    stop();
    socket.close(1000, reason);
  }

  const stopWatching = ctx.watcher.watch([id], () => void pump());
  const poll = setInterval(() => void pump(), POLL_MS);
  function stop(): void {
    stopWatching();
    clearInterval(poll);
  }
  socket.on('close', () => {
    closed = true;
    stop();
  });
  void pump();
}
