/**
 * Signing in and out of the web UI, and the public facts the UI needs.
 * POST /session checks the password (scrypt), rate-limits failures per user
 * name, and sets the session cookie: httpOnly, SameSite=Strict, Secure when
 * the public URL is https.
 */
import type {} from '@fastify/swagger'; // route schema fields: summary, hide
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { DroverError, ErrorBodySchema, LoginRequestSchema, ServerInfoSchema, SessionSchema, type Session } from '@drover/protocol';
import { verifyPassword } from '../../auth/passwords.js';
import { createSession, deleteSession, type SignedIn } from '../../auth/sessions.js';
import { SignInLimiter } from '../../auth/sign-in-limiter.js';
import { findUserRow, getUser, rolesOf, type UserRoles } from '../../auth/users.js';
import type { ServerContext } from '../../context.js';
import { version } from '../../version.js';
import { visibleWorkspaces } from '../../workspaces/workspaces.js';
import { authenticateUser, setSessionCookie } from '../auth.js';

export async function sessionRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const limiter = new SignInLimiter();
  const cookieOptions = () => ({ secure: ctx.publicUrl.startsWith('https:'), maxAgeSeconds: Math.floor(ctx.sessionTtlMs / 1000) });

  const sessionJson = async (signedIn: SignedIn, roles: UserRoles): Promise<Session> => ({
    user: await getUser(ctx.db, signedIn.user.name),
    workspaces: (await visibleWorkspaces(ctx.db, roles)).map((w) => ({ name: w.name, role: w.role! })),
    csrfToken: signedIn.csrfToken,
    expiresAt: signedIn.session.expires_at,
  });

  app.get('/api/v1/info', { schema: { summary: 'Server version and public URL (no sign-in needed)', security: [], response: { 200: ServerInfoSchema } } }, async () => ({
    version,
    publicUrl: ctx.publicUrl,
  }));

  app.post<{ Body: Static<typeof LoginRequestSchema> }>(
    '/api/v1/session',
    {
      schema: {
        summary: 'Sign in with a user name and password; sets the session cookie',
        security: [],
        body: LoginRequestSchema,
        response: { 200: SessionSchema, 401: ErrorBodySchema, 429: ErrorBodySchema },
      },
    },
    async (request, reply) => {
      const { name, password } = request.body;
      if (!limiter.allows(name)) throw new DroverError('DROVER_ERR_TOO_MANY_ATTEMPTS', `too many failed sign-ins for ${JSON.stringify(name)}`);
      const user = await findUserRow(ctx.db, name);
      if (!(await verifyPassword(password, user?.password_hash ?? null)) || !user) {
        limiter.failed(name);
        request.log.info({ user: name }, 'sign-in failed');
        throw new DroverError('DROVER_ERR_BAD_CREDENTIALS', 'wrong user name or password');
      }
      limiter.succeeded(name);
      const signedIn = await createSession(ctx.db, user, ctx.sessionTtlMs);
      setSessionCookie(reply, signedIn.cookie, cookieOptions());
      request.log.info({ user: name, session: signedIn.session.id }, 'signed in');
      return sessionJson(signedIn, await rolesOf(ctx.db, user.id));
    },
  );

  app.get('/api/v1/session', { schema: { summary: 'The signed-in user, its workspaces and roles, and the CSRF token', response: { 200: SessionSchema, 401: ErrorBodySchema } } }, async (request) => {
    // authenticateUser already read the roles: they are passed on, not read again.
    const { signedIn, roles } = await authenticateUser(ctx, request);
    return sessionJson(signedIn, roles);
  },
  );

  app.delete('/api/v1/session', { schema: { summary: 'Sign out', response: { 204: Type.Null() } } }, async (request, reply) => {
    try {
      const { signedIn } = await authenticateUser(ctx, request);
      await deleteSession(ctx.db, signedIn.session.id);
      request.log.info({ user: signedIn.user.name, session: signedIn.session.id }, 'signed out');
    } catch (err) {
      // Signing out of a session that already ended is fine; a forged request is not.
      if (!(err instanceof DroverError) || err.code === 'DROVER_ERR_CSRF') throw err;
    }
    setSessionCookie(reply, null, cookieOptions());
    return reply.status(204).send();
  });
}
