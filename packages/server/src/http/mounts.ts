/**
 * Where routes are mounted. Routes that act inside one workspace are written
 * once and mounted twice by `mountWorkspaceRoutes`: under /api/v1 they act in
 * the token's workspace (the CLI's paths); under
 * /api/v1/workspaces/:workspace the workspace is named (the web UI's paths).
 * The named mount adds the shared `:workspace` parameter schema to every
 * route it holds, so validation and the OpenAPI document say so.
 */
import { Type, TypeGuard } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault, RouteOptions } from 'fastify';
import { API_PREFIX, WorkspaceParamsSchema } from '@drover/protocol';
import type { ServerContext } from '../context.js';

/** A Fastify instance whose handlers take their types from the TypeBox route schemas. */
type TypedApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

interface WorkspaceMount {
  readonly prefix: string;
  /** Whether the URL names the workspace (else it is the token's). */
  readonly named: boolean;
  /** The path of the workspace itself under this prefix: /api/v1/workspace, or /api/v1/workspaces/:workspace. */
  readonly self: string;
}

const WORKSPACE_MOUNTS: readonly WorkspaceMount[] = [
  { prefix: API_PREFIX, named: false, self: '/workspace' },
  { prefix: `${API_PREFIX}/workspaces/:workspace`, named: true, self: '' },
];

export type Routes = (app: TypedApp, ctx: ServerContext) => Promise<void>;
export type WorkspaceRoutes = (app: TypedApp, ctx: ServerContext, mount: WorkspaceMount) => Promise<void>;

/** Declares the :workspace path parameter of a route mounted under a named workspace. */
function withWorkspaceParam(route: RouteOptions): void {
  const params = route.schema?.params;
  const properties = TypeGuard.IsObject(params) ? params.properties : {};
  route.schema = { ...route.schema, params: Type.Object({ ...properties, ...WorkspaceParamsSchema.properties }) };
}

/** Registers plugins of routes each in their own encapsulated scope, typed by the TypeBox provider. */
export async function mountRoutes(app: FastifyInstance, ctx: ServerContext, routes: readonly Routes[]): Promise<void> {
  for (const r of routes) await app.register(async (scope) => r(scope.withTypeProvider<TypeBoxTypeProvider>(), ctx));
}

/** Mounts workspace routes at both prefixes: the one mechanism for the workspace-scoped twins. */
export async function mountWorkspaceRoutes(app: FastifyInstance, ctx: ServerContext, routes: readonly WorkspaceRoutes[]): Promise<void> {
  for (const mount of WORKSPACE_MOUNTS) {
    await app.register(
      async (scope) => {
        if (mount.named) scope.addHook('onRoute', withWorkspaceParam);
        for (const r of routes) await r(scope.withTypeProvider<TypeBoxTypeProvider>(), ctx, mount);
      },
      { prefix: mount.prefix },
    );
  }
}
