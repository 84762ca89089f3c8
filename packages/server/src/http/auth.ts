/**
 * Who is asking, and may they do it here?
 *
 * A request carries either a bearer token (scoped to its own workspace, its
 * kind fixing what it may do) or the web UI's session cookie (a user with
 * roles per workspace or globally). The functions here resolve either one
 * and check it against the permission table of @drover/protocol (roles.ts);
 * they are called only by the authorization hook (access.ts), which runs
 * the check each route declares. Session requests that change state must
 * also carry the CSRF header.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CSRF_HEADER, DroverError, SESSION_COOKIE, roleAllows, tokenAllows, tokenKindsAllowed, tokenRole, type Action, type Role } from '@drover/protocol';
import { bearerFrom, type Principal } from '../auth/tokens.js';
import { csrfMatches, verifySession, type SignedIn } from '../auth/sessions.js';
import { roleIn, rolesOf, type UserRoles } from '../auth/users.js';
import type { Access } from '../auth/access.js';
import type { ServerContext } from '../context.js';
import { findWorkspace } from '../workspaces/repository.js';

/** The actions a route may need inside one workspace (the others are token-only or cache actions). */
export type WorkspaceAction = Extract<Action, 'read' | 'deploy' | 'admin'>;

export interface UserAccess {
  readonly signedIn: SignedIn;
  readonly roles: UserRoles;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A cookie value %-decoded; broken %-encoding stays as it is (and then names no session: 401, never a URIError). */
function decodeCookieValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function sessionCookie(request: FastifyRequest): string | null {
  const header = request.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return decodeCookieValue(part.slice(eq + 1).trim());
  }
  return null;
}

/** Whether a request speaks for a token (an Authorization header, or no session cookie either) rather than a signed-in user. */
export function usesToken(request: FastifyRequest): boolean {
  return request.headers.authorization !== undefined || !sessionCookie(request);
}

/** A verified token allowed to do `action` by the permission table (else 403 naming the kinds that may); records its use. */
export async function authenticateToken(ctx: ServerContext, token: string | null, action: Action): Promise<Principal> {
  // Agent connections come as a fleet: their token reads are gathered (auth/tokens.ts).
  const principal = await ctx.tokens.verify(token, action === 'agent');
  if (!tokenAllows(principal.kind, action)) {
    throw new DroverError(
      'DROVER_ERR_FORBIDDEN',
      `a ${principal.kind} token cannot do this; it needs a token of kind ${tokenKindsAllowed(action).join(' or ')}`,
    );
  }
  ctx.tokenUsage.record(principal.tokenId);
  return principal;
}

export function bearerToken(request: FastifyRequest): string | null {
  return bearerFrom(request.headers.authorization);
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

function denied(role: Role, action: WorkspaceAction, workspace: string): DroverError {
  return new DroverError(
    'DROVER_ERR_ROLE',
    `the ${role} role in workspace ${workspace} cannot ${action === 'read' ? 'view this' : action === 'deploy' ? 'deploy, cancel or re-run' : 'change tokens or settings'}`,
  );
}

/** May the request do `action` in the workspace it names (`named`, from the URL) or its token's? Says who is acting. */
export async function authorizeInWorkspace(ctx: ServerContext, request: FastifyRequest, named: string | undefined, action: WorkspaceAction): Promise<Access> {
  if (usesToken(request)) {
    const p = await authenticateToken(ctx, bearerToken(request), action);
    if (named !== undefined && named !== p.workspaceName) {
      throw new DroverError('DROVER_ERR_FORBIDDEN', `token ${p.tokenId} belongs to workspace ${p.workspaceName}, not ${named}`);
    }
    const role = tokenRole(p.kind);
    if (!role) throw new DroverError('DROVER_ERR_FORBIDDEN', `a ${p.kind} token acts on no workspace`);
    return {
      workspaceId: p.workspaceId,
      workspaceName: p.workspaceName,
      role,
      actor: { kind: 'token', id: p.tokenId, label: p.description || p.tokenId },
      credential: { kind: 'token', id: p.tokenId },
    };
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
  return {
    workspaceId: workspace.id,
    workspaceName: workspace.name,
    role,
    actor: { kind: 'user', id: signedIn.user.name, label: signedIn.user.name },
    credential: { kind: 'session', id: signedIn.session.id, expiresAt: signedIn.session.expires_at },
  };
}

/** For routes that act on no one workspace (creating workspaces): a user with the global admin role. */
export async function requireGlobalAdmin(ctx: ServerContext, request: FastifyRequest): Promise<UserAccess> {
  if (request.headers.authorization !== undefined) {
    throw new DroverError(
      'DROVER_ERR_FORBIDDEN',
      'tokens belong to one workspace; creating workspaces needs a signed-in global admin or `drover workspace create` on the server machine',
    );
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
