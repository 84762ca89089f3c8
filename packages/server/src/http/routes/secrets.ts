/**
 * Secrets of a workspace: list and read their metadata (any reader — never
 * ciphertext), set and remove them (deployers and admins). Routes parse and
 * call secrets/service.ts, which owns the rules.
 */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import {
  ErrorBodySchema,
  SecretListSchema,
  SecretNameParamsSchema,
  SecretRemoveQuerySchema,
  SecretRemoveResponseSchema,
  SecretSchema,
  SecretSetRequestSchema,
  SecretSetResponseSchema,
} from '@drover/protocol';
import { getSecret, listSecretsOf, removeSecret, setSecret } from '../../secrets/service.js';
import { access, workspaceAccess } from '../access.js';
import type { WorkspaceRoutes } from '../mounts.js';

export const secretRoutes: WorkspaceRoutes = async (app, ctx) => {
  const read = { access: access.workspace('read') };
  const write = { access: access.workspace('deploy') };

  app.get(
    '/secrets',
    {
      config: read,
      schema: { summary: "The workspace's secrets by name: targets, path, owner, mode, version (never their ciphertext)", response: { 200: SecretListSchema } },
    },
    async (request) => listSecretsOf(ctx, workspaceAccess(request)),
  );

  app.get(
    '/secrets/:name',
    {
      config: read,
      schema: { summary: "One secret's metadata and targets", params: SecretNameParamsSchema, response: { 200: SecretSchema, 404: ErrorBodySchema } },
    },
    async (request) => getSecret(ctx, workspaceAccess(request), request.params.name),
  );

  app.put(
    '/secrets/:name',
    {
      config: write,
      schema: {
        summary:
          "Create or replace a secret with its age ciphertext (encrypted by the client to each target's recipient); queues a secrets-only deployment to each affected agent unless deploy is false",
        params: SecretNameParamsSchema,
        body: SecretSetRequestSchema,
        response: { 200: SecretSetResponseSchema, 400: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema, 413: ErrorBodySchema },
      },
    },
    async (request) => setSecret(ctx, workspaceAccess(request), request.params.name, request.body),
  );

  app.delete(
    '/secrets/:name',
    {
      config: write,
      schema: {
        summary: 'Remove a secret; its file is deleted from its agents by a secrets-only deployment (?deploy=false: with their next deployment)',
        params: SecretNameParamsSchema,
        querystring: SecretRemoveQuerySchema,
        response: { 200: SecretRemoveResponseSchema, 404: ErrorBodySchema },
      },
    },
    async (request) => removeSecret(ctx, workspaceAccess(request), request.params.name, request.query.deploy !== 'false'),
  );
};
