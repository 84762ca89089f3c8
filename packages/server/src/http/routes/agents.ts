/** Agents of the token's workspace: online state, versions, what they run. */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AgentListSchema, AgentSchema, DroverError, ErrorBodySchema } from '@drover/protocol';
import { listAgents } from '../../agents/repository.js';
import type { ServerContext } from '../../context.js';
import { authenticate } from '../auth.js';

const NameParams = Type.Object({ name: Type.String({ maxLength: 64 }) });

export async function agentRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get('/api/v1/agents', { schema: { summary: 'All agents of the workspace', response: { 200: AgentListSchema } } }, async (request) => {
    const p = await authenticate(ctx, request, 'read');
    return { agents: await listAgents(ctx.db, { id: p.workspaceId, name: p.workspaceName }, ctx.presence) };
  });

  app.get<{ Params: Static<typeof NameParams> }>(
    '/api/v1/agents/:name',
    { schema: { summary: 'One agent by name', params: NameParams, response: { 200: AgentSchema, 404: ErrorBodySchema } } },
    async (request) => {
      const p = await authenticate(ctx, request, 'read');
      const [agent] = await listAgents(ctx.db, { id: p.workspaceId, name: p.workspaceName }, ctx.presence, { name: request.params.name });
      if (!agent) throw new DroverError('DROVER_ERR_AGENT_NOT_FOUND', `agent ${JSON.stringify(request.params.name)} has never connected to workspace ${p.workspaceName}`);
      return agent;
    },
  );
}
