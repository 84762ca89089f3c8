/**
 * PostgreSQL for tests: which server the PostgreSQL cases use (or the one
 * line saying why they are skipped), fresh schema names, and dropping a
 * schema afterwards. Every test uses its own random schema, so runs in
 * parallel checkouts share one database without colliding.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { errorMessage } from './error-message.js';

/** The variable naming the PostgreSQL server the tests use. */
export const DATABASE_URL_VARIABLE = 'DROVER_TEST_DATABASE_URL';
/** Set to 1 to fail instead of skipping when no PostgreSQL answers (a full run must not skip silently). */
export const REQUIRE_POSTGRES_VARIABLE = 'DROVER_TEST_REQUIRE_POSTGRES';

/** Tried in order when $DROVER_TEST_DATABASE_URL is not set: database "test", trust auth, on 127.0.0.1:5432. */
export const DEFAULT_POSTGRES_URLS: readonly string[] = ['postgres://postgres@127.0.0.1:5432/test', 'postgres://root@127.0.0.1:5432/test'];

/** Where the PostgreSQL cases run (`url`), or why they are skipped (`skip`, one line for the test report). */
export type PostgresTarget = { readonly url: string; readonly skip: false } | { readonly url: undefined; readonly skip: string };

/** `url` without its password, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** Why connecting to `url` and running `select 1` failed, or undefined when it worked. */
async function connectError(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (err) {
    return errorMessage(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The first of `candidates` that accepts a connection. Only
 * $DROVER_TEST_DATABASE_URL is tried when it is set (the defaults are not
 * then tried behind its back); the defaults otherwise.
 */
export async function probePostgres(env: NodeJS.ProcessEnv = process.env): Promise<PostgresTarget> {
  const configured = env[DATABASE_URL_VARIABLE];
  const candidates = configured ? [configured] : DEFAULT_POSTGRES_URLS;
  const failures: string[] = [];
  for (const url of candidates) {
    const error = await connectError(url);
    if (error === undefined) return { url, skip: false };
    failures.push(`${redact(url)} (${error})`);
  }
  const advice = configured ? `check ${DATABASE_URL_VARIABLE}` : `set ${DATABASE_URL_VARIABLE}`;
  const skip = `PostgreSQL not reachable at ${failures.join(', ')}: skipping the PostgreSQL cases; ${advice}`;
  if (env[REQUIRE_POSTGRES_VARIABLE] === '1') throw new Error(`${skip} (but ${REQUIRE_POSTGRES_VARIABLE}=1)`);
  return { url: undefined, skip };
}

let found: Promise<PostgresTarget> | undefined;

/** {@link probePostgres} for this process's environment, asked once per process. */
export function findPostgres(): Promise<PostgresTarget> {
  found ??= probePostgres();
  return found;
}

/** A fresh schema name `PREFIX<12 hex digits>`; the prefix must be a lower-case identifier. */
export function randomSchema(prefix: string): string {
  return `${prefix}${randomBytes(6).toString('hex')}`;
}

/** `drop schema if exists SCHEMA cascade`; refuses anything but a plain lower-case identifier. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`refusing to drop schema ${schema}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
}
