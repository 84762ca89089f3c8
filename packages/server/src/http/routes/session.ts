/**
 * Signing in and out of the web UI, and the public facts the UI needs.
 * POST /session checks the password (scrypt) through the sign-in gate
 * (auth/sign-in.ts: a per-name lockout counted before hashing, a bounded
 * hashing queue, a per-address limit), and sets the session cookie: httpOnly, SameSite=Strict, Secure when
 * the public URL is https.
 */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import { Type } from '@sinclair/typebox';
import { DroverError, ErrorBodySchema, LoginRequestSchema, ServerInfoSchema, SessionSchema, type Session } from '@drover/protocol';
import { createSession, deleteSession, type SignedIn } from '../../auth/sessions.js';
import { SignInRefused } from '../../auth/sign-in.js';
import { findUserRow, getUser, rolesOf, type UserRoles } from '../../auth/users.js';
import { version } from '../../version.js';
import { visibleWorkspaces } from '../../workspaces/service.js';
import { setSessionCookie } from '../auth.js';
import { access, userAccess } from '../access.js';
import { field, fromBody } from '../audit.js';
import type { Routes } from '../mounts.js';

export const sessionRoutes: Routes = async (app, ctx) => {
  const cookieOptions = () => ({ secure: ctx.publicUrl.startsWith('https:'), maxAgeSeconds: Math.floor(ctx.sessionTtlMs / 1000) });

  const sessionJson = async (signedIn: SignedIn, roles: UserRoles): Promise<Session> => ({
    user: await getUser(ctx.db, signedIn.user.name),
    workspaces: (await visibleWorkspaces(ctx.db, roles)).map((w) => ({ name: w.name, role: w.role })),
    csrfToken: signedIn.csrfToken,
    expiresAt: signedIn.session.expires_at,
  });

  app.get(
    '/api/v1/info',
    {
      config: { access: access.public },
      schema: { summary: 'Server version and public URL (no sign-in needed)', security: [], response: { 200: ServerInfoSchema } },
    },
    async () => ({
      version,
      publicUrl: ctx.publicUrl,
    }),
  );

  app.post(
    '/api/v1/session',
    {
      config: {
        access: access.public,
        // Only the name: the body also holds the password.
        audit: {
          action: 'session.create',
          target: fromBody('name'),
          actor: (request) => {
            const name = field(request.body, 'name') ?? '';
            return { kind: 'user', id: name, label: name };
          },
        },
      },
      schema: {
        summary: 'Sign in with a user name and password; sets the session cookie',
        security: [],
        body: LoginRequestSchema,
        response: { 200: SessionSchema, 401: ErrorBodySchema, 429: ErrorBodySchema, 503: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const { name, password } = request.body;
      const user = await findUserRow(ctx.db, name);
      let ok: boolean;
      try {
        ok = await ctx.signIn.check({ name, password, stored: user?.password_hash ?? null, address: request.ip });
      } catch (err) {
        if (err instanceof SignInRefused) reply.header('retry-after', String(err.retryAfterSeconds));
        throw err;
      }
      if (!ok || !user) {
        request.log.info({ user: name }, 'sign-in failed');
        throw new DroverError('DROVER_ERR_BAD_CREDENTIALS', 'wrong user name or password');
      }
      const signedIn = await createSession(ctx.db, user, ctx.sessionTtlMs);
      setSessionCookie(reply, signedIn.cookie, cookieOptions());
      request.log.info({ user: name, session: signedIn.session.id }, 'signed in');
      return sessionJson(signedIn, await rolesOf(ctx.db, user.id));
    },
  );

  app.get(
    '/api/v1/session',
    {
      config: { access: access.user },
      schema: { summary: 'The signed-in user, its workspaces and roles, and the CSRF token', response: { 200: SessionSchema, 401: ErrorBodySchema } },
    },
    async (request) => {
      // The hook already read the roles: they are passed on, not read again.
      const user = userAccess(request);
      if (!user) throw new DroverError('DROVER_ERR_UNAUTHORIZED', 'not signed in');
      return sessionJson(user.signedIn, user.roles);
    },
  );

  app.delete(
    '/api/v1/session',
    {
      config: { access: access.signingOut, audit: { action: 'session.delete', target: (request) => userAccess(request)?.signedIn.user.name } },
      schema: { summary: 'Sign out', response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      const user = userAccess(request);
      if (user) {
        await deleteSession(ctx.db, user.signedIn.session.id);
        // Event streams opened with this session end on every replica.
        await ctx.bus.publish({ kind: 'session-ended', sessionId: user.signedIn.session.id });
        request.log.info({ user: user.signedIn.user.name, session: user.signedIn.session.id }, 'signed out');
      }
      setSessionCookie(reply, null, cookieOptions());
      return reply.status(204).send(null);
    },
  );
};
