/**
 * Live changes of one workspace for the web UI, over server-sent events:
 * agents that came, went or changed, and deployments created or changed, on
 * any replica. Bus events are collected and flushed a few times a second, as
 * full rows of this workspace only; when too much changed at once (a fleet
 * reconnecting) the client is told to fetch again instead. Nothing is sent
 * while the socket is still full: changes pile up as ids (bounded by the
 * resync threshold), not as queued bytes.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WORKSPACE_EVENTS } from '@drover/protocol';
import { listAgents } from '../agents/repository.js';
import type { Credential } from '../auth/access.js';
import type { ServerContext } from '../context.js';
import { getDeployments, toDeploymentApi } from '../deployments/repository.js';
import { openEventStream } from './sse.js';

const FLUSH_MS = 250;
/** More changed rows than this in one flush: send `resync` rather than rows. */
const MAX_ROWS = 500;

export function streamWorkspaceEvents(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  workspace: { id: string; name: string },
  credential: Credential,
): void {
  let agentIds = new Set<string>();
  let deploymentIds = new Set<string>();
  let resync = false;
  let flushing = false;

  const unsubscribe = ctx.bus.subscribe((event) => {
    switch (event.kind) {
      case 'agents-changed':
        for (const id of event.agentIds) agentIds.add(id);
        break;
      case 'deploy':
        // New deployments and the ones they superseded, by id: both are shown as they are now.
        for (const d of event.deployments) deploymentIds.add(d.id);
        for (const id of event.superseded) deploymentIds.add(id);
        // An activation announced whole is larger than a flush may send as rows.
        if (event.activation) resync = true;
        break;
      case 'deployment-changed':
        for (const id of event.deploymentIds) deploymentIds.add(id);
        break;
      case 'resync':
        resync = true;
        break;
      default:
        break;
    }
  });
  const timer = setInterval(() => void flush(), FLUSH_MS);
  const stream = openEventStream(ctx, request, reply, {
    credential,
    onCleanup: () => {
      unsubscribe();
      clearInterval(timer);
    },
  });
  stream.send('ready', {});

  async function flush(): Promise<void> {
    if (flushing || stream.closed) return;
    if (!resync && agentIds.size + deploymentIds.size === 0) return;
    flushing = true;
    // A reader that does not keep up gets the changes merged into the next flush, never a growing queue.
    await stream.drained();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the stream can close during the await; TypeScript keeps the narrowing from before it
    if (stream.closed) return;
    const agents = agentIds;
    const deployments = deploymentIds;
    const mustResync = resync || agents.size + deployments.size > MAX_ROWS;
    agentIds = new Set();
    deploymentIds = new Set();
    resync = false;
    try {
      if (mustResync) {
        stream.send(WORKSPACE_EVENTS.resync, {});
        return;
      }
      const rows = (await getDeployments(ctx.db, [...deployments])).filter((r) => r.workspace_id === workspace.id);
      // A deployment's progress changes its agent's row (last deployment, current path).
      for (const r of rows) agents.add(r.agent_id);
      if (rows.length > 0) stream.send(WORKSPACE_EVENTS.deployments, { deployments: rows.map((r) => toDeploymentApi(r, ctx.publicUrl)) });
      if (agents.size > 0) {
        const changed = await listAgents(ctx.db, workspace, ctx.presence, { ids: [...agents] });
        if (changed.agents.length > 0) stream.send(WORKSPACE_EVENTS.agents, { agents: changed.agents });
      }
    } catch (err) {
      request.log.warn({ err }, 'workspace event stream: reading changes failed; asking the client to resync');
      stream.send(WORKSPACE_EVENTS.resync, {});
    } finally {
      flushing = false;
    }
  }
}
