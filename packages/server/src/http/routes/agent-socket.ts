/**
 * The agent websocket endpoint. The token is checked before the upgrade, so
 * a bad or revoked token gets a plain HTTP 401 with a JSON error the agent
 * can log, and never a socket.
 */
import type { FastifyInstance } from 'fastify';
import { AGENT_WS_PATH } from '@drover/protocol';
import type { Principal } from '../../auth/tokens.js';
import type { ServerContext } from '../../context.js';
import { authenticate } from '../auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    droverPrincipal?: Principal;
  }
}

export async function agentSocketRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get(
    AGENT_WS_PATH,
    {
      websocket: true,
      schema: { hide: true },
      preValidation: async (request) => {
        request.droverPrincipal = await authenticate(ctx, request, 'agent');
      },
    },
    (socket, request) => {
      ctx.hub.accept(socket, request.droverPrincipal!);
    },
  );
}
