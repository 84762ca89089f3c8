/**
 * An activation as a whole (mounted per workspace, see app.ts): its view —
 * deployments with their wave, counts, unchanged agents, its rollout's state
 * per wave — and pausing, resuming and aborting its staged rollout.
 */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import { ActivationViewSchema, ErrorBodySchema, IdParamsSchema } from '@drover/protocol';
import { activationView, rolloutAction, type RolloutAction } from '../../rollouts/service.js';
import { access, workspaceAccess } from '../access.js';
import { fromParam } from '../audit.js';
import type { WorkspaceRoutes } from '../mounts.js';

const ACTION_SUMMARIES: Record<RolloutAction, string> = {
  pause: 'Pause a running rollout: no more deployments are released; those running finish',
  resume: 'Resume a paused rollout',
  abort: 'Abort a rollout: every Queued deployment becomes Held; those running finish',
};

export const activationRoutes: WorkspaceRoutes = async (app, ctx) => {
  app.get(
    '/activations/:id',
    {
      config: { access: access.workspace('read') },
      schema: {
        summary: 'One activation: its deployments, counts, unchanged agents and rollout state per wave',
        params: IdParamsSchema,
        response: { 200: ActivationViewSchema, 404: ErrorBodySchema },
      },
    },
    async (request) => activationView(ctx, workspaceAccess(request), request.params.id),
  );

  for (const action of Object.keys(ACTION_SUMMARIES) as RolloutAction[]) {
    app.post(
      `/activations/:id/${action}`,
      {
        config: { access: access.workspace('deploy'), audit: { action: `rollout.${action}`, target: fromParam('id') } },
        schema: {
          summary: ACTION_SUMMARIES[action],
          params: IdParamsSchema,
          response: { 200: ActivationViewSchema, 404: ErrorBodySchema, 409: ErrorBodySchema },
        },
      },
      async (request) => {
        const p = workspaceAccess(request);
        const view = await rolloutAction(ctx, p, request.params.id, action);
        request.log.info({ activation: request.params.id, action, by: `${p.actor.kind}:${p.actor.id}` }, `rollout ${action}`);
        return view;
      },
    );
  }
};
