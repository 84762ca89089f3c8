/**
 * Who is asking, and may they do it here?
 *
 * A request carries either a bearer token (scoped to its own workspace, its
 * kind fixing what it may do) or the web UI's session cookie (a user with
 * roles per workspace or globally). `authorize` reduces both to one Access:
 * the workspace acted on, the effective role, and who to record as the actor.
 * Workspace-scoped routes are mounted twice — under /api/v1 (the token's
 * workspace) and under /api/v1/workspaces/:workspace — so both paths go
 * through here. Session requests that change state must also carry the
 * CSRF header.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  CSRF_HEADER,
  DroverError,
  SESSION_COOKIE,
  TOKEN_ROLES,
  roleAllows,
  type Action,
  type Actor,
  type Role,
  type TokenKind,
  type TokenScope,
} from '@drover/protocol';
import { bearerFrom, verifyToken, type Principal } from '../auth/tokens.js';
import { csrfMatches, verifySession, type SignedIn } from '../auth/sessions.js';
import { roleIn, rolesOf, type UserRoles } from '../auth/users.js';
import type { ServerContext } from '../context.js';
import { findWorkspace } from '../workspaces/workspaces.js';

/** Token checks: endpoints only tokens use (the agent socket, metrics), and the token path of `authorize`. */
export async function authenticate(ctx: ServerContext, request: FastifyRequest, scope: TokenScope): Promise<Principal> {
  const principal = await verifyToken(ctx.db, bearerFrom(request.headers.authorization), scope);
  ctx.tokenUsage.record(principal.tokenId);
  return principal;
}


export interface Access {
  readonly workspaceId: string;
  readonly workspaceName: string;
  readonly role: Role;
  readonly actor: Actor;
}

export interface UserAccess {
  readonly signedIn: SignedIn;
  readonly roles: UserRoles;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function sessionCookie(request: FastifyRequest): string | null {
  const header = request.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

/** Whether a request speaks for a token (an Authorization header, or no session cookie either) rather than a signed-in user. */
export function usesToken(request: FastifyRequest): boolean {
  return request.headers.authorization !== undefined || !sessionCookie(request);
}

/** The signed-in user of a request (session cookie), CSRF-checked for state changes. */
export async function authenticateUser(ctx: ServerContext, request: FastifyRequest): Promise<UserAccess> {
  const cookie = sessionCookie(request);
  if (!cookie) throw new DroverError('DROVER_ERR_UNAUTHORIZED', 'not signed in: sign in at /login, or send "Authorization: Bearer TOKEN"');
  const signedIn = await verifySession(ctx.db, cookie);
  if (!SAFE_METHODS.has(request.method)) {
    const header = request.headers[CSRF_HEADER];
    if (!csrfMatches(signedIn.csrfToken, typeof header === 'string' ? header : undefined)) {
      throw new DroverError('DROVER_ERR_CSRF', `this ${request.method} used the session cookie without a valid ${CSRF_HEADER} header`);
    }
  }
  return { signedIn, roles: await rolesOf(ctx.db, signedIn.user.id) };
}

/** The workspace a route is mounted under, when it is. */
function workspaceParam(request: FastifyRequest): string | undefined {
  const params = request.params as { workspace?: unknown } | undefined;
  return typeof params?.workspace === 'string' ? params.workspace : undefined;
}

function denied(role: Role, action: Action, workspace: string): DroverError {
  return new DroverError('DROVER_ERR_ROLE', `the ${role} role in workspace ${workspace} cannot ${action === 'read' ? 'view this' : action === 'deploy' ? 'deploy, cancel or re-run' : 'change tokens or settings'}`);
}

/** Checks that the request may do `action` in the workspace it names (or its token's), and says who is acting. */
export async function authorize(ctx: ServerContext, request: FastifyRequest, action: Exclude<Action, 'agent'>): Promise<Access> {
  const named = workspaceParam(request);
  if (usesToken(request)) {
    const p = await authenticate(ctx, request, 'read');
    if (named !== undefined && named !== p.workspaceName) {
      throw new DroverError('DROVER_ERR_FORBIDDEN', `token ${p.tokenId} belongs to workspace ${p.workspaceName}, not ${named}`);
    }
    const role: Role | null = TOKEN_ROLES[p.kind];
    if (!role || !roleAllows(role, action)) {
      const kinds = (Object.keys(TOKEN_ROLES) as TokenKind[]).filter((k) => {
        const r: Role | null = TOKEN_ROLES[k];
        return r !== null && roleAllows(r, action);
      });
      throw new DroverError('DROVER_ERR_FORBIDDEN', `a ${p.kind} token cannot do this; it needs a token of kind ${kinds.join(' or ')}`);
    }
    return { workspaceId: p.workspaceId, workspaceName: p.workspaceName, role, actor: { kind: 'token', id: p.tokenId, label: p.description || p.tokenId } };
  }
  const { signedIn, roles } = await authenticateUser(ctx, request);
  if (named === undefined) {
    throw new DroverError('DROVER_ERR_VALIDATION', 'a signed-in user names the workspace in the URL: /api/v1/workspaces/NAME/…');
  }
  const workspace = await findWorkspace(ctx.db, named).catch(() => null);
  const role = workspace ? roleIn(roles, workspace.id) : null;
  // A workspace the user has no role in looks exactly like one that does not exist.
  if (!workspace || !role) throw new DroverError('DROVER_ERR_WORKSPACE_NOT_FOUND', `workspace ${JSON.stringify(named)} does not exist`);
  if (!roleAllows(role, action)) throw denied(role, action, workspace.name);
  return { workspaceId: workspace.id, workspaceName: workspace.name, role, actor: { kind: 'user', id: signedIn.user.name, label: signedIn.user.name } };
}

/** For routes that act on no one workspace (creating workspaces): a user with the global admin role. */
export async function requireGlobalAdmin(ctx: ServerContext, request: FastifyRequest): Promise<UserAccess> {
  if (request.headers.authorization !== undefined) {
    throw new DroverError('DROVER_ERR_FORBIDDEN', 'tokens belong to one workspace; creating workspaces needs a signed-in global admin or `drover workspace create` on the server machine');
  }
  const access = await authenticateUser(ctx, request);
  if (access.roles.global !== 'admin') {
    throw new DroverError('DROVER_ERR_ROLE', `only a global admin can do this; ${access.signedIn.user.name} is not one`);
  }
  return access;
}

/** Sets or clears the session cookie. */
export function setSessionCookie(reply: FastifyReply, value: string | null, options: { secure: boolean; maxAgeSeconds: number }): void {
  const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict'];
  if (options.secure) attributes.push('Secure');
  attributes.push(value === null ? 'Max-Age=0' : `Max-Age=${options.maxAgeSeconds}`);
  reply.header('set-cookie', `${SESSION_COOKIE}=${value ?? ''}; ${attributes.join('; ')}`);
}
