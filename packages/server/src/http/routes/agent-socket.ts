/**
 * The agent websocket endpoint. The token is checked before the upgrade (the
 * route declares the agent action, see access.ts), so a bad or revoked token
 * gets a plain HTTP 401 with a JSON error the agent can log, and never a
 * socket; a replica that holds all the sockets it may answers 503 with a
 * Retry-After (agent-admission.ts).
 */
import { AGENT_WS_PATH } from '@drover/protocol';
import { access, tokenAccess } from '../access.js';
import type { Routes } from '../mounts.js';
import { admitAgentSocket } from './agent-admission.js';

export const agentSocketRoutes: Routes = async (app, ctx) => {
  app.get(
    AGENT_WS_PATH,
    { websocket: true, config: { access: access.token('agent') }, preHandler: admitAgentSocket(ctx), schema: { hide: true } },
    (socket, request) => {
      ctx.hub.accept(socket, tokenAccess(request));
    },
  );
};
