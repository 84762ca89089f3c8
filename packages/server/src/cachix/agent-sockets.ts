/**
 * The two sockets a Cachix deployment subprocess opens beside the agent's
 * `/ws`: `/ws-deployment` (DeploymentStarted, DeploymentFinished) and the log
 * upload (one `{line, time}` frame per line). Both authenticate with the
 * agent's token and name it in the `name` header; the agent must have
 * registered on `/ws` once. Frames are handled strictly in order; what is
 * recorded goes through reports.ts and the deployments repository.
 */
import type { WebSocket } from '@fastify/websocket';
import type { RawData } from 'ws';
import { CLOSE_CODES, isAgentName, MAX_LOG_LINE_CHARS, MAX_LOG_LINES_PER_FRAME, type LogLine } from '@drover/protocol';
import type { Principal } from '../auth/tokens.js';
import type { ServerContext } from '../context.js';
import { findAgentsByName } from '../agents/repository.js';
import { appendLog, logHeads } from '../deployments/repository.js';
import { storableText } from '../db/text.js';
import { recordReport, type CachixAgent } from './reports.js';
import { decodeLogLine, decodeSubprocessReport } from './wire.js';

/** Most frames waiting on one socket before it is cut off. */
const MAX_QUEUED = 1024;

function text(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/** The agent a subprocess socket speaks for: the `name` header, held to the token's binding, of an agent that registered. */
export async function cachixAgentOf(ctx: ServerContext, principal: Principal, name: string | undefined): Promise<CachixAgent | { error: string }> {
  if (name === undefined || !isAgentName(name)) return { error: 'the "name" header is missing or not an agent name' };
  if (principal.agentName !== null ? principal.agentName !== name : principal.claimsAgent) {
    return { error: `this token is not bound to agent "${name}"` };
  }
  const [row] = await findAgentsByName(ctx.db, principal.workspaceId, [name]);
  if (!row) return { error: `agent "${name}" has not registered on /ws yet` };
  return { id: row.id, name: row.name, workspaceId: principal.workspaceId };
}

/**
 * How long an outcome waits for the log upload of its deployment to close
 * with every line stored. The two come on different sockets, and whoever
 * reads a final status (a log stream, `drover activate`) takes it to mean
 * the whole log is stored, as it is for a Drover agent.
 */
const UPLOAD_SETTLE_MS = 3000;

/** Log uploads open on this replica, by deployment: settled once closed and every line stored. */
const uploads = new Map<string, Promise<void>>();

/** Runs each frame's work after the previous one's; a failure closes the socket (1011: the client reconnects). Returns the work still running. */
function inOrder(ctx: ServerContext, socket: WebSocket, agent: CachixAgent, handle: (text: string) => Promise<void>): () => Promise<void> {
  let chain = Promise.resolve();
  let queued = 0;
  socket.on('message', (data, isBinary) => {
    if (isBinary) return;
    if (++queued > MAX_QUEUED) {
      socket.close(CLOSE_CODES.badFrame, 'too many frames in flight');
      return;
    }
    const frame = text(data);
    chain = chain
      .then(() => handle(frame))
      .catch((err: unknown) => {
        ctx.log.warn({ err, agent: agent.name }, 'failed to record a Cachix frame; closing so it is sent again');
        socket.close(1011, 'server error while recording a frame');
      })
      .finally(() => queued--);
  });
  return () => chain;
}

/** `/ws-deployment`: the subprocess's reports. */
export function acceptSubprocess(ctx: ServerContext, socket: WebSocket, agent: CachixAgent): void {
  inOrder(ctx, socket, agent, async (frame) => {
    const report = decodeSubprocessReport(frame);
    if ('error' in report) {
      ctx.log.warn({ agent: agent.name, error: report.error }, 'ignored a frame on /ws-deployment');
      return;
    }
    if (report.kind === 'finished') await settled(report.id);
    await recordReport(ctx, agent, report);
  });
}

/** Waits (bounded) until the log upload of this deployment, if open here, closed with every line stored. */
async function settled(deploymentId: string): Promise<void> {
  const upload = uploads.get(deploymentId);
  if (upload === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([upload, new Promise((resolve) => (timer = setTimeout(resolve, UPLOAD_SETTLE_MS)))]);
  clearTimeout(timer);
}

/**
 * The log upload socket of one deployment: lines numbered after those
 * already stored and written in order, as many at a time as arrived while
 * the previous write ran (one transaction and one announcement per batch).
 */
export function acceptLogUpload(ctx: ServerContext, socket: WebSocket, agent: CachixAgent, deploymentId: string): void {
  let next: number | null = null;
  let refused = false;
  let writing: Promise<void> | null = null;
  const waiting: LogLine[] = [];

  const write = async (): Promise<void> => {
    while (waiting.length > 0 && !refused) {
      const batch = waiting.splice(0, MAX_LOG_LINES_PER_FRAME);
      if (!(await appendLog(ctx.db, agent.id, deploymentId, batch, ctx.hub.maxLogBytes))) {
        refused = true;
        socket.close(CLOSE_CODES.forbidden, 'this deployment is not of this agent');
        return;
      }
      await ctx.bus.publish({ kind: 'deployment-changed', deploymentIds: [deploymentId] });
    }
  };

  /** Starts a write unless one runs; one that ends with lines left (they came as it finished) starts the next. */
  const kick = (): void => {
    if (writing) return;
    writing = write()
      .catch((err: unknown) => {
        refused = true;
        ctx.log.warn({ err, agent: agent.name, deployment: deploymentId }, 'could not store Cachix log lines; closing the upload');
        socket.close(1011, 'server error while storing log lines');
      })
      .finally(() => {
        writing = null;
        if (waiting.length > 0 && !refused) kick();
      });
  };

  const idle = inOrder(ctx, socket, agent, async (frame) => {
    const line = decodeLogLine(frame);
    if (line === null || refused) return;
    next ??= ((await logHeads(ctx.db, [deploymentId])).get(deploymentId) ?? -1) + 1;
    waiting.push({ seq: next++, time: line.time, stream: 'stdout', text: storableText(line.line.slice(0, MAX_LOG_LINE_CHARS)) });
    kick();
    // A full batch waits for the write in flight, so a fast uploader is held back by the database, not buffered without bound.
    if (waiting.length >= MAX_LOG_LINES_PER_FRAME) await writing;
  });

  const inFlight = (): Promise<void> | null => writing;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const done = (async () => {
    await closed;
    await idle();
    // A write that ends with lines left starts the next, so wait until none runs.
    for (let w = inFlight(); w; w = inFlight()) await w;
  })();
  uploads.set(deploymentId, done);
  void done.finally(() => {
    if (uploads.get(deploymentId) === done) uploads.delete(deploymentId);
  });
}
