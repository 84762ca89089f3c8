/**
 * POST …/activate — deploy.json in, one Pending deployment per agent
 * out (mounted under /api/v1 and /api/v1/workspaces/:workspace). Validation is atomic: every problem (bad names, bad store paths,
 * unknown agents) is reported at once and nothing is created.
 */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import type { FastifyInstance } from 'fastify';
import {
  ActivateRequestSchema,
  ActivateResponseSchema,
  deploySpecProblems,
  isAgentName,
  pointer,
  DroverError,
  ErrorBodySchema,
  type ActivateResponse,
  type DeploySpec,
  type ErrorDetail,
} from '@drover/protocol';
import { findAgentsByName, isOnline, lastSeen } from '../../agents/repository.js';
import type { ServerContext } from '../../context.js';
import { deploymentUrl } from '../../deployments/repository.js';
import { createAndAnnounce } from './start-deployments.js';
import { authorize } from '../auth.js';

export async function activateRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  app.post(
    '/activate',
    {
      // The schema documents the body; deploySpecProblems validates it, naming every problem.
      validatorCompiler: () => () => true,
      schema: {
        summary: 'Start deployments from a deploy.json spec',
        body: ActivateRequestSchema,
        response: { 201: ActivateResponseSchema, 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const principal = await authorize(ctx, request, 'deploy');
      const body: unknown = request.body;
      const problems: ErrorDetail[] = deploySpecProblems(body);
      const agentsObj = body && typeof body === 'object' ? (body as { agents?: unknown }).agents : undefined;
      const names = agentsObj && typeof agentsObj === 'object' && !Array.isArray(agentsObj) ? Object.keys(agentsObj) : [];
      const found = await findAgentsByName(ctx.db, principal.workspaceId, names);
      const byName = new Map(found.map((a) => [a.name, a]));
      // One problem per entry: an entry already reported (bad name, bad path) is not also called unknown.
      const reported = new Set(problems.map((p) => p.path));
      const unknown = names.filter((n) => isAgentName(n) && !byName.has(n) && !reported.has(pointer('agents', n)));
      for (const name of unknown) {
        problems.push({
          path: pointer('agents', name),
          code: 'DROVER_ERR_UNKNOWN_AGENT',
          message: `unknown agent ${JSON.stringify(name)} in workspace ${principal.workspaceName}`,
        });
      }
      if (problems.length > 0) {
        const onlyUnknown = problems.every((p) => p.code === 'DROVER_ERR_UNKNOWN_AGENT');
        throw new DroverError(
          onlyUnknown ? 'DROVER_ERR_UNKNOWN_AGENT' : 'DROVER_ERR_INVALID_DEPLOY_SPEC',
          `nothing was deployed: ${problems.map((p) => p.message).join('; ')}`,
          problems,
        );
      }
      // deploySpecProblems found nothing above: the body is a valid spec (rollbackScript may be null).
      const spec = body as DeploySpec;
      const planned = names.map((name) => {
        const agent = byName.get(name)!;
        // The rollbackScript is picked by the agent's system; an agent that never connected
        // has none yet, so its deployment keeps the whole map until it says hello.
        const rollback = agent.system ? (spec.rollbackScript?.[agent.system] ?? null) : null;
        const keepAll = !agent.system && spec.rollbackScript ? spec.rollbackScript : null;
        return { agentId: agent.id, storePath: spec.agents[name as keyof typeof spec.agents]!, rollbackScript: rollback, rollbackScripts: keepAll };
      });
      const { activationId, rows } = await createAndAnnounce(ctx, principal, planned);
      const byAgentId = new Map(found.map((a) => [a.id, a]));
      const now = Date.now();
      const agents: ActivateResponse['agents'] = {};
      for (const row of rows) {
        const agent = byAgentId.get(row.agent_id)!;
        agents[agent.name] = {
          id: row.id,
          index: Number(row.index_no),
          url: deploymentUrl(ctx.publicUrl, principal.workspaceName, row.id),
          storePath: row.store_path,
          online: isOnline(agent, ctx.presence, now),
          lastSeenAt: lastSeen(agent),
        };
      }
      request.log.info({ activation: activationId, agents: rows.length, by: `${principal.actor.kind}:${principal.actor.id}` }, 'activation created');
      return reply.status(201).send({ activationId, agents });
    },
  );
}
