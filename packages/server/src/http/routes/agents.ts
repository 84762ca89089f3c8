/** Agents of a workspace: online state, versions, what they run; re-deploying an agent's current path. */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { AgentListQuerySchema, AgentListSchema, AgentSchema, DeploymentSchema, DroverError, ErrorBodySchema, type StorePath } from '@drover/protocol';
import { findAgentsByName, listAgents } from '../../agents/repository.js';
import type { ServerContext } from '../../context.js';
import { latestDeploymentOfPath } from '../../deployments/repository.js';
import { authorize } from '../auth.js';
import { startDeployments } from './start-deployments.js';

const NameParams = Type.Object({ name: Type.String({ maxLength: 64 }) });

export async function agentRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.get<{ Querystring: Static<typeof AgentListQuerySchema> }>(
    '/agents',
    { schema: { summary: 'Agents of the workspace by name; filter by name and status, page with limit/offset', querystring: AgentListQuerySchema, response: { 200: AgentListSchema } } },
    async (request) => {
      const a = await authorize(ctx, request, 'read');
      return listAgents(ctx.db, { id: a.workspaceId, name: a.workspaceName }, ctx.presence, request.query);
    },
  );

  app.get<{ Params: Static<typeof NameParams> }>(
    '/agents/:name',
    { schema: { summary: 'One agent by name', params: NameParams, response: { 200: AgentSchema, 404: ErrorBodySchema } } },
    async (request) => {
      const a = await authorize(ctx, request, 'read');
      const { agents } = await listAgents(ctx.db, { id: a.workspaceId, name: a.workspaceName }, ctx.presence, { name: request.params.name });
      if (!agents[0]) throw new DroverError('DROVER_ERR_AGENT_NOT_FOUND', `agent ${JSON.stringify(request.params.name)} does not exist in workspace ${a.workspaceName}`);
      return agents[0];
    },
  );

  app.post<{ Params: Static<typeof NameParams> }>(
    '/agents/:name/redeploy',
    {
      schema: {
        summary: "Deploy the agent's current store path again (with the rollbackScript it was deployed with)",
        params: NameParams,
        response: { 201: DeploymentSchema, 404: ErrorBodySchema, 409: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const a = await authorize(ctx, request, 'deploy');
      const [agent] = await findAgentsByName(ctx.db, a.workspaceId, [request.params.name]);
      if (!agent) throw new DroverError('DROVER_ERR_AGENT_NOT_FOUND', `agent ${JSON.stringify(request.params.name)} does not exist in workspace ${a.workspaceName}`);
      if (!agent.current_store_path) throw new DroverError('DROVER_ERR_NOTHING_DEPLOYED', `agent ${agent.name} has no current store path to re-deploy`);
      const previous = await latestDeploymentOfPath(ctx.db, agent.id, agent.current_store_path);
      const [deployment] = await startDeployments(ctx, a, [
        { agentId: agent.id, storePath: agent.current_store_path as StorePath, rollbackScript: (previous?.rollback_script ?? null) as StorePath | null, rollbackScripts: null },
      ]);
      return reply.status(201).send(deployment);
    },
  );
}
