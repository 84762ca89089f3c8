/**
 * Authorization declared per route, enforced by ONE hook.
 *
 * Every route says in its options what it needs (`config: { access }`): a
 * public route, a signed-in user, a token allowed an action, an action in
 * one workspace (the token's own, or the `:workspace` of the URL), or an
 * action on the binary cache named by `:name`. `installAccess` adds the
 * preHandler hook that resolves the principal and enforces the declaration
 * before any handler runs, and refuses to register a route that declares
 * nothing, so a route that forgets cannot ship. Handlers read what the hook
 * resolved with the typed getters below.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DroverError, type Action } from '@drover/protocol';
import type { Access } from '../auth/access.js';
import type { Principal } from '../auth/tokens.js';
import type { CacheRow } from '../cache/caches-repository.js';
import { cacheCredential, pullNeedsToken } from '../cache/access.js';
import type { ServerContext } from '../context.js';
import {
  authenticateToken,
  authenticateUser,
  authorizeInWorkspace,
  bearerToken,
  requireGlobalAdmin,
  usesToken,
  type UserAccess,
  type WorkspaceAction,
} from './auth.js';

export type CacheAction = Extract<Action, 'cache-pull' | 'cache-push'>;

/** What a route declares it needs. */
export type RouteAccess =
  /** Anyone (health, sign-in, the web UI's files). */
  | { readonly kind: 'public' }
  /** A signed-in user; `globalAdmin` also needs the global admin role; `optional` lets a missing or expired session through (sign-out). */
  | { readonly kind: 'user'; readonly globalAdmin?: boolean; readonly optional?: boolean }
  /** A bearer token allowed `action`, wherever it belongs (agent socket, metrics). */
  | { readonly kind: 'token'; readonly action: Action }
  /** `action` in one workspace: the token's own, or the `:workspace` the URL names. */
  | { readonly kind: 'workspace'; readonly action: WorkspaceAction }
  /** A token reading its own workspace, or any signed-in user (listing workspaces). */
  | { readonly kind: 'caller' }
  /** `action` on the binary cache the URL names (`:name`); pulling from a public cache needs nobody. */
  | { readonly kind: 'cache'; readonly action: CacheAction }
  /** One of these, picked by the request (the Cachix log socket: an agent uploads, `?view=true` reads); `pick` names the key. */
  | { readonly kind: 'choice'; readonly choices: Readonly<Record<string, RouteAccess>>; readonly pick: (request: FastifyRequest) => string };

/** The declarations, by name, for route options: `config: { access: access.workspace('read') }`. */
export const access = {
  public: { kind: 'public' },
  user: { kind: 'user' },
  signingOut: { kind: 'user', optional: true },
  globalAdmin: { kind: 'user', globalAdmin: true },
  caller: { kind: 'caller' },
  token: (action: Action) => ({ kind: 'token', action }),
  workspace: (action: WorkspaceAction) => ({ kind: 'workspace', action }),
  cache: (action: CacheAction) => ({ kind: 'cache', action }),
  choice: (choices: Readonly<Record<string, RouteAccess>>, pick: (request: FastifyRequest) => string): RouteAccess => ({ kind: 'choice', choices, pick }),
} as const satisfies Record<string, RouteAccess | ((...args: never[]) => RouteAccess)>;

/** What the hook resolved for one request. */
type Resolved =
  | { readonly kind: 'public' }
  | { readonly kind: 'user'; readonly user: UserAccess | null }
  | { readonly kind: 'token'; readonly principal: Principal }
  | { readonly kind: 'workspace'; readonly access: Access }
  | { readonly kind: 'cache'; readonly cache: CacheRow; readonly principal: Principal | null };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the route needs; enforced by the hook of http/access.ts. */
    access?: RouteAccess;
  }
  interface FastifyRequest {
    droverAccess?: Resolved;
  }
  interface FastifyInstance {
    /** Every registered route with what it declares (tests assert none is missing). */
    readonly routeAccess: readonly DeclaredRoute[];
  }
}

interface DeclaredRoute {
  readonly method: string;
  readonly url: string;
  readonly access: RouteAccess;
}

/** A string path parameter, when the route has it. */
function param(request: FastifyRequest, name: string): string | undefined {
  const params: unknown = request.params;
  if (typeof params !== 'object' || params === null || !(name in params)) return undefined;
  const value: unknown = Reflect.get(params, name);
  return typeof value === 'string' ? value : undefined;
}

async function resolveCache(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, action: CacheAction): Promise<Resolved> {
  const name = param(request, 'name');
  if (name === undefined) throw new DroverError('DROVER_ERR_INTERNAL', `route ${request.routeOptions.url ?? ''} declares cache access but has no :name`);
  const cache = await ctx.cache.servedCache(name);
  if (action === 'cache-pull' && !pullNeedsToken(cache)) return { kind: 'cache', cache, principal: null };
  let principal: Principal;
  try {
    principal = await authenticateToken(ctx, cacheCredential(request.headers.authorization), action);
  } catch (err) {
    if (err instanceof DroverError && err.statusCode === 401) void reply.header('www-authenticate', `Basic realm="drover cache ${cache.name}"`);
    throw err;
  }
  if (principal.workspaceId !== cache.workspace_id) {
    throw new DroverError('DROVER_ERR_FORBIDDEN', `this token belongs to workspace ${principal.workspaceName}, which does not own cache ${cache.name}`);
  }
  if (principal.cacheId !== null && principal.cacheId !== cache.id) {
    throw new DroverError('DROVER_ERR_FORBIDDEN', `this ${principal.kind} token is bound to another cache than ${cache.name}`);
  }
  return { kind: 'cache', cache, principal };
}

async function resolve(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, declared: RouteAccess): Promise<Resolved> {
  switch (declared.kind) {
    case 'public':
      return declared;
    case 'user':
      if (declared.globalAdmin) return { kind: 'user', user: await requireGlobalAdmin(ctx, request) };
      if (!declared.optional) return { kind: 'user', user: await authenticateUser(ctx, request) };
      try {
        return { kind: 'user', user: await authenticateUser(ctx, request) };
      } catch (err) {
        // Signing out of a session that already ended is fine; a forged request is not.
        if (!(err instanceof DroverError) || err.code === 'DROVER_ERR_CSRF') throw err;
        return { kind: 'user', user: null };
      }
    case 'token':
      return { kind: 'token', principal: await authenticateToken(ctx, bearerToken(request), declared.action) };
    case 'workspace':
      return { kind: 'workspace', access: await authorizeInWorkspace(ctx, request, param(request, 'workspace'), declared.action) };
    case 'caller':
      return usesToken(request)
        ? { kind: 'workspace', access: await authorizeInWorkspace(ctx, request, undefined, 'read') }
        : { kind: 'user', user: await authenticateUser(ctx, request) };
    case 'cache':
      return resolveCache(ctx, request, reply, declared.action);
    case 'choice': {
      const chosen = declared.choices[declared.pick(request)];
      if (!chosen) throw new DroverError('DROVER_ERR_INTERNAL', `route ${request.routeOptions.url ?? ''} picked an access it does not declare`);
      return resolve(ctx, request, reply, chosen);
    }
  }
}

function describe(route: { method: string | string[]; url: string }): string {
  return `${[route.method].flat().join(',')} ${route.url}`;
}

/**
 * Installs the one authorization hook on the root instance, before any route
 * is registered: routes without `config.access` are refused at startup.
 */
export function installAccess(app: FastifyInstance, ctx: ServerContext): void {
  const declared: DeclaredRoute[] = [];
  app.decorate('routeAccess', declared);
  app.addHook('onRoute', (route) => {
    const routeAccess = route.config?.access;
    if (!routeAccess) throw new Error(`route ${describe(route)} declares no access (config.access, see http/access.ts)`);
    for (const method of [route.method].flat()) declared.push({ method, url: route.url, access: routeAccess });
  });
  // After validation, as before: a malformed request is answered 400 whoever sends it.
  app.addHook('preHandler', async (request, reply) => {
    const declared = request.routeOptions.config.access;
    // Unknown routes (the 404 handler) have no declaration and nothing to guard.
    if (!declared) return;
    request.droverAccess = await resolve(ctx, request, reply, declared);
  });
}

function resolved(request: FastifyRequest): Resolved {
  const r = request.droverAccess;
  if (!r) throw new DroverError('DROVER_ERR_INTERNAL', `route ${request.routeOptions.url ?? ''} ran without its authorization`);
  return r;
}

function mismatch(request: FastifyRequest, wanted: string): DroverError {
  return new DroverError('DROVER_ERR_INTERNAL', `route ${request.routeOptions.url ?? ''} reads ${wanted} access it did not declare`);
}

/** The workspace a `workspace` (or a token's `caller`) route acts in, and who acts. */
export function workspaceAccess(request: FastifyRequest): Access {
  const r = resolved(request);
  if (r.kind !== 'workspace') throw mismatch(request, 'workspace');
  return r.access;
}

/** The signed-in user of a `user` route (null only for `signingOut` without a session). */
export function userAccess(request: FastifyRequest): UserAccess | null {
  const r = resolved(request);
  if (r.kind !== 'user') throw mismatch(request, 'user');
  return r.user;
}

/** Who a `caller` route answers: a token's workspace, or a signed-in user. */
export function callerAccess(request: FastifyRequest): { readonly workspace: Access } | { readonly user: UserAccess } {
  const r = resolved(request);
  if (r.kind === 'workspace') return { workspace: r.access };
  if (r.kind === 'user' && r.user) return { user: r.user };
  throw mismatch(request, 'caller');
}

/** The token of a `token` route. */
export function tokenAccess(request: FastifyRequest): Principal {
  const r = resolved(request);
  if (r.kind !== 'token') throw mismatch(request, 'token');
  return r.principal;
}

/** The cache of a `cache` route (and the token, unless a public cache was read anonymously). */
export function cacheAccess(request: FastifyRequest): { readonly cache: CacheRow; readonly principal: Principal | null } {
  const r = resolved(request);
  if (r.kind !== 'cache') throw mismatch(request, 'cache');
  return r;
}
