/**
 * Agents of a workspace: online state, versions, what they run, labels;
 * filtering by selector and status, the fleet overview, admin labels,
 * decommissioning; re-deploying an agent's current path.
 */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import {
  AgentLabelsRequestSchema,
  AgentListQuerySchema,
  AgentListSchema,
  AgentNameParamsSchema,
  AgentSchema,
  DeploymentSchema,
  ErrorBodySchema,
  FleetSchema,
  parseSelector,
} from '@drover/protocol';
import { fleetOverview, listAgents } from '../../agents/repository.js';
import { changeAgentLabels, decommissionAgent, getAgent } from '../../agents/service.js';
import { redeployAgent } from '../../deployments/service.js';
import { access, workspaceAccess } from '../access.js';
import { field, fromParam, valueAt } from '../audit.js';
import type { WorkspaceRoutes } from '../mounts.js';

export const agentRoutes: WorkspaceRoutes = async (app, ctx) => {
  const read = { access: access.workspace('read') };
  app.get(
    '/agents',
    {
      config: read,
      schema: {
        summary: 'Agents of the workspace by name; filter by name, label selector and status, page with limit/offset',
        querystring: AgentListQuerySchema,
        response: { 200: AgentListSchema },
      },
    },
    async (request) => {
      const a = workspaceAccess(request);
      const { selector, ...filter } = request.query;
      return listAgents(ctx.db, { id: a.workspaceId, name: a.workspaceName }, ctx.presence, {
        ...filter,
        selector: selector === undefined ? undefined : parseSelector(selector),
      });
    },
  );

  app.get(
    '/fleet',
    { config: read, schema: { summary: "The workspace's agents counted by presence and by their latest deployment", response: { 200: FleetSchema } } },
    async (request) => fleetOverview(ctx.db, workspaceAccess(request).workspaceId, ctx.presence),
  );

  app.get(
    '/agents/:name',
    { config: read, schema: { summary: 'One agent by name', params: AgentNameParamsSchema, response: { 200: AgentSchema, 404: ErrorBodySchema } } },
    async (request) => getAgent(ctx, workspaceAccess(request), request.params.name),
  );

  const admin = { access: access.workspace('admin') };
  for (const [method, mode] of [
    ['PUT', 'replace'],
    ['PATCH', 'merge'],
  ] as const) {
    app.route({
      method,
      url: '/agents/:name/labels',
      config: {
        ...admin,
        audit: { action: 'agent.set-labels', target: fromParam('name'), details: (request) => ({ mode, labels: valueAt(request.body, 'labels') }) },
      },
      schema: {
        summary:
          mode === 'replace'
            ? "Replace the admin's label changes of an agent (a value sets a label, null removes the agent's own)"
            : "Merge into the admin's label changes of an agent (a value sets, null removes)",
        params: AgentNameParamsSchema,
        body: AgentLabelsRequestSchema,
        response: { 200: AgentSchema, 400: ErrorBodySchema, 404: ErrorBodySchema },
      },
      handler: async (request) => changeAgentLabels(ctx, workspaceAccess(request), request.params.name, request.body.labels, mode),
    });
  }

  app.delete(
    '/agents/:name',
    {
      config: { ...admin, audit: { action: 'agent.decommission', target: fromParam('name') } },
      schema: {
        summary: 'Decommission an agent: it leaves the lists, its bound tokens are revoked, its connection closes; its deployments stay',
        params: AgentNameParamsSchema,
        response: { 204: { type: 'null' }, 404: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      await decommissionAgent(ctx, workspaceAccess(request), request.params.name);
      return reply.status(204).send();
    },
  );

  app.post(
    '/agents/:name/redeploy',
    {
      config: {
        access: access.workspace('deploy'),
        audit: { action: 'agent.redeploy', target: fromParam('name'), details: (_request, response) => ({ deployment: field(response.body(), 'id') }) },
      },
      schema: {
        summary: "Deploy the agent's current store path again (with the rollbackScript it was deployed with)",
        params: AgentNameParamsSchema,
        response: { 201: DeploymentSchema, 404: ErrorBodySchema, 409: ErrorBodySchema },
      },
    },
    async (request, reply) => reply.status(201).send(await redeployAgent(ctx, workspaceAccess(request), request.params.name)),
  );
};
