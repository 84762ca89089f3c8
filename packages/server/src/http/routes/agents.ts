/** Agents of a workspace: online state, versions, what they run; re-deploying an agent's current path. */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import { AgentListQuerySchema, AgentListSchema, AgentNameParamsSchema, AgentSchema, DeploymentSchema, DroverError, ErrorBodySchema } from '@drover/protocol';
import { listAgents } from '../../agents/repository.js';
import { redeployAgent } from '../../deployments/service.js';
import { access, workspaceAccess } from '../access.js';
import type { WorkspaceRoutes } from '../mounts.js';

export const agentRoutes: WorkspaceRoutes = async (app, ctx) => {
  const read = { access: access.workspace('read') };
  app.get(
    '/agents',
    {
      config: read,
      schema: {
        summary: 'Agents of the workspace by name; filter by name and status, page with limit/offset',
        querystring: AgentListQuerySchema,
        response: { 200: AgentListSchema },
      },
    },
    async (request) => {
      const a = workspaceAccess(request);
      return listAgents(ctx.db, { id: a.workspaceId, name: a.workspaceName }, ctx.presence, request.query);
    },
  );

  app.get(
    '/agents/:name',
    { config: read, schema: { summary: 'One agent by name', params: AgentNameParamsSchema, response: { 200: AgentSchema, 404: ErrorBodySchema } } },
    async (request) => {
      const a = workspaceAccess(request);
      const { agents } = await listAgents(ctx.db, { id: a.workspaceId, name: a.workspaceName }, ctx.presence, { name: request.params.name });
      if (!agents[0])
        throw new DroverError('DROVER_ERR_AGENT_NOT_FOUND', `agent ${JSON.stringify(request.params.name)} does not exist in workspace ${a.workspaceName}`);
      return agents[0];
    },
  );

  app.post(
    '/agents/:name/redeploy',
    {
      config: { access: access.workspace('deploy') },
      schema: {
        summary: "Deploy the agent's current store path again (with the rollbackScript it was deployed with)",
        params: AgentNameParamsSchema,
        response: { 201: DeploymentSchema, 404: ErrorBodySchema, 409: ErrorBodySchema },
      },
    },
    async (request, reply) => reply.status(201).send(await redeployAgent(ctx, workspaceAccess(request), request.params.name)),
  );
};
