/**
 * Sign-in sessions of the web UI.
 *
 * The cookie holds `<id>.<secret>`; like tokens, only the id and a SHA-256 of
 * the secret are stored, and the comparison is constant-time. Sessions have
 * an absolute lifetime. The CSRF token is derived from the secret, so the
 * server can check it without storing it, and a page on another origin can
 * neither read the cookie (httpOnly) nor compute the token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { DroverError } from '@drover/protocol';
import type { Database, SessionRow, UserRow } from '../db/schema.js';
import { nowIso } from '../db/time.js';

export const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;

const cookieRe = /^([0-9a-f]{16})\.([0-9a-f]{64})$/;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function csrfTokenFor(secret: string): string {
  return sha256(`drover-csrf:${secret}`).toString('hex').slice(0, 40);
}

export interface SignedIn {
  readonly session: SessionRow;
  readonly user: UserRow;
  readonly csrfToken: string;
}

export async function createSession(db: Kysely<Database>, user: UserRow, ttlMs: number): Promise<SignedIn & { cookie: string }> {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('hex');
  const now = Date.now();
  const session: SessionRow = {
    id,
    user_id: user.id,
    secret_hash: sha256(secret).toString('hex'),
    created_at: new Date(now).toISOString(),
    expires_at: new Date(now + ttlMs).toISOString(),
  };
  await db.deleteFrom('sessions').where('user_id', '=', user.id).where('expires_at', '<', session.created_at).execute();
  await db.insertInto('sessions').values(session).execute();
  return { session, user, csrfToken: csrfTokenFor(secret), cookie: `${id}.${secret}` };
}

/** The session a cookie value names; throws when it is malformed, unknown or expired. */
export async function verifySession(db: Kysely<Database>, cookie: string): Promise<SignedIn> {
  const m = cookieRe.exec(cookie);
  if (!m) throw new DroverError('DROVER_ERR_SESSION_EXPIRED', 'the session cookie is malformed; sign in again');
  const [, id, secret] = m as unknown as [string, string, string];
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .selectAll('sessions')
    .select(['users.name as user_name', 'users.password_hash', 'users.created_at as user_created_at'])
    .where('sessions.id', '=', id)
    .executeTakeFirst();
  const presented = sha256(secret);
  const stored = row ? Buffer.from(row.secret_hash, 'hex') : Buffer.alloc(presented.length);
  const matches = stored.length === presented.length && timingSafeEqual(stored, presented) && !!row;
  if (!row || !matches) throw new DroverError('DROVER_ERR_SESSION_EXPIRED', 'this session is not known (signed out, or the password changed); sign in again');
  if (row.expires_at <= nowIso()) {
    await db.deleteFrom('sessions').where('id', '=', id).execute();
    throw new DroverError('DROVER_ERR_SESSION_EXPIRED', `the session expired at ${row.expires_at}; sign in again`);
  }
  const session: SessionRow = { id: row.id, user_id: row.user_id, secret_hash: row.secret_hash, created_at: row.created_at, expires_at: row.expires_at };
  const user: UserRow = { id: row.user_id, name: row.user_name, password_hash: row.password_hash, created_at: row.user_created_at };
  return { session, user, csrfToken: csrfTokenFor(secret) };
}

export function csrfMatches(expected: string, presented: string | undefined): boolean {
  if (!presented) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function deleteSession(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('sessions').where('id', '=', id).execute();
}

/** Ends every session of a user (its password changed). */
export async function deleteSessionsOf(db: Kysely<Database>, userId: string): Promise<void> {
  await db.deleteFrom('sessions').where('user_id', '=', userId).execute();
}
