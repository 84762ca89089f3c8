/**
 * Opening the database: the only place that knows SQLite from PostgreSQL.
 *
 * Everything above this seam is one Kysely query code path. SQLite (a file in
 * the data directory) is the embedded default for one server process;
 * PostgreSQL (`--database-url postgres://…`) holds the state of several
 * stateless replicas.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { DroverError } from '@drover/protocol';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';
import { startWalCheckpointer } from './wal-checkpointer.js';
import { withStatementCache } from './statement-cache.js';
import { DroverSqliteDialect } from './sqlite-driver.js';
import type { WriteLock } from './cluster-write-lock.js';

export type DialectName = 'sqlite' | 'postgres';

/** How long a write waits for SQLite's write lock (busy_timeout), and for the workers' shared one. */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000;

export interface DatabaseOptions {
  /** `postgres://…` / `postgresql://…`; when absent, SQLite in `dataDir`. */
  readonly databaseUrl?: string | undefined;
  /** Directory for the SQLite file (drover.sqlite). */
  readonly dataDir: string;
  /** PostgreSQL schema to use (created if missing); default `public`. */
  readonly databaseSchema?: string | undefined;
  /**
   * PostgreSQL only: told when an idle pooled connection dies (a database
   * restart, a failover, `pg_terminate_backend`, an idle reaper). The pool
   * drops that connection and opens a new one on the next query; without a
   * listener the pool's 'error' event would end the process.
   */
  readonly onConnectionError?: ((err: Error) => void) | undefined;
  /**
   * false: refuse with DROVER_ERR_NO_DATABASE when no Drover database is
   * there yet, and create nothing (no directory, file or schema) — for admin
   * commands, where a mistyped --data-dir would otherwise get an empty
   * database whose tokens the server never sees. The server creates its own.
   */
  readonly create?: boolean | undefined;
  /**
   * SQLite only, for the server: checkpoint the write-ahead log from a worker thread (wal-checkpointer.ts) instead of
   * inside the commits that fill it; told of a checkpoint that failed. Short-lived commands leave it to SQLite.
   */
  readonly onCheckpointFailed?: ((problem: string) => void) | undefined;
  /** SQLite only, for the workers of `--workers N`: the lock a write waits for without blocking the process (cluster-write-lock.ts). */
  readonly writeLock?: WriteLock | undefined;
}

/** The SQLite file of a data directory. */
function sqliteFile(dataDir: string): string {
  return join(dataDir, 'drover.sqlite');
}

function noDatabase(where: string, why: string): DroverError {
  return new DroverError('DROVER_ERR_NO_DATABASE', `no Drover database in ${where}: ${why}; nothing was created there`);
}

/** Refuses (and closes `db`) unless this PostgreSQL schema holds a Drover database: its migrations table. */
async function requireMigrations(db: Kysely<Database>, schema: string): Promise<void> {
  let found = false;
  try {
    const q = sql<{ n: number }>`select 1 as n from information_schema.tables where table_schema = ${schema} and table_name = 'kysely_migration'`;
    found = (await q.execute(db)).rows.length > 0;
  } finally {
    if (!found) await db.destroy();
  }
  if (!found) throw noDatabase(`PostgreSQL schema ${schema}`, 'it has no Drover tables (is --database-schema the one the server uses?)');
}

interface OpenDatabaseOf<D extends DialectName> {
  readonly db: Kysely<Database>;
  readonly dialect: D;
  readonly schema: string;
  close(): Promise<void>;
}

export type OpenDatabase =
  | OpenDatabaseOf<'sqlite'>
  | (OpenDatabaseOf<'postgres'> & {
      /** Connection settings for a dedicated LISTEN client. */
      readonly pgConfig: pg.ClientConfig;
    });

function pgConfigFor(url: string, schema: string): pg.ClientConfig {
  return {
    connectionString: url,
    // Names the server's connections in pg_stat_activity (per schema, so replicas of one deployment share it).
    application_name: `drover:${schema}`,
    // bigint columns (sizes, counts, indexes) come back as numbers, as on SQLite.
    types: {
      getTypeParser: (oid, format): unknown => (oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)),
    },
    options: `-c search_path=${schema}`,
  };
}

export function isPostgresUrl(url: string | undefined): boolean {
  return !!url && /^postgres(ql)?:\/\//.test(url);
}

export async function openDatabase(options: DatabaseOptions): Promise<OpenDatabase> {
  const url = options.databaseUrl;
  if (url && !isPostgresUrl(url)) {
    const [scheme] = url.split(':');
    throw new DroverError(
      'DROVER_ERR_CONFIG',
      `database URL must start with postgres:// or postgresql:// (got ${JSON.stringify(`${scheme}:…`)}); leave it unset for the embedded SQLite database`,
    );
  }
  if (url && isPostgresUrl(url)) {
    const schema = options.databaseSchema ?? 'public';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new DroverError('DROVER_ERR_CONFIG', `database schema ${JSON.stringify(schema)} must be a lowercase SQL identifier`);
    }
    const config = pgConfigFor(url, schema);
    if (schema !== 'public' && options.create !== false) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`create schema if not exists ${schema}`);
      } finally {
        await client.end();
      }
    }
    const pool = new pg.Pool({ ...config, max: 10 });
    const onConnectionError = options.onConnectionError ?? (() => {});
    pool.on('error', (err) => onConnectionError(err));
    // pg-pool listens on idle clients only: a checked-out client whose connection ends
    // (terminated mid-request) would emit an unhandled 'error' after its query already
    // failed. That query's error reaches the caller (503); this listener keeps the process alive.
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    if (options.create === false) await requireMigrations(db, schema);
    return { db, dialect: 'postgres', pgConfig: config, schema, close: () => db.destroy() };
  }
  const file = sqliteFile(options.dataDir);
  if (options.create === false && !existsSync(file)) {
    throw noDatabase(options.dataDir, existsSync(options.dataDir) ? 'it has no drover.sqlite' : 'the directory does not exist');
  }
  // Token hashes and deployment logs live here: readable by the server's user only.
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  sqlite.pragma('foreign_keys = ON');
  const checkpointer = options.onCheckpointFailed ? startWalCheckpointer(sqlite, file, options.onCheckpointFailed) : null;
  const db = new Kysely<Database>({ dialect: new DroverSqliteDialect({ database: withStatementCache(sqlite), writeLock: options.writeLock }) });
  return {
    db,
    dialect: 'sqlite',
    schema: 'main',
    close: async () => {
      await checkpointer?.close();
      await db.destroy();
    },
  };
}

/**
 * Brings the schema up to date; safe to run from several replicas at once.
 * On PostgreSQL Kysely's own bookkeeping tables live in our schema too, so
 * several Drover schemas can share one database.
 */
export async function migrateToLatest(database: Pick<OpenDatabase, 'db' | 'dialect' | 'schema'>): Promise<void> {
  const { db } = database;
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    ...(database.dialect === 'postgres' ? { migrationTableSchema: database.schema } : {}),
  });
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (!error && !failed) return;
    // The migrator looks for its tables by introspecting every schema of the database; another schema
    // dropped at that moment (another Drover schema's teardown) makes that look-up fail. It changed
    // nothing (each run is one transaction), so it is run again.
    if (database.dialect === 'postgres' && attempt < MIGRATION_ATTEMPTS && isConcurrentDrop(error)) {
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      continue;
    }
    const reason = error instanceof Error ? error.message : typeof error === 'string' ? error : 'unknown error';
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${reason}`);
  }
}

const MIGRATION_ATTEMPTS = 5;

/** undefined_table, undefined_column and invalid_schema_name: what a schema dropped during the migrator's look-up gives. */
const CONCURRENT_DROP_SQLSTATES = new Set(['42P01', '42703', '3F000']);

function isConcurrentDrop(err: unknown): boolean {
  const code = err instanceof Error && 'code' in err ? err.code : undefined;
  return typeof code === 'string' && CONCURRENT_DROP_SQLSTATES.has(code);
}

/** The `onConnectionError` of a server process: one warning line; the pool reconnects on its own. */
export function logConnectionLost(log: Logger, err: Error): void {
  log.warn({ err: err.message }, 'an idle database connection was lost; the pool opens a new one on the next query');
}

/** PostgreSQL error classes 08 (connection exception) and 57P (operator intervention: shutdown, terminated backend). */
const LOST_CONNECTION_SQLSTATE = /^(08|57P0[1-3])/;
const LOST_CONNECTION_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);
const LOST_CONNECTION_MESSAGES = /Connection terminated|not queryable|timeout exceeded when trying to connect|Connection ended/i;

/**
 * Whether an error means the database connection itself failed (as opposed to
 * a query the database refused): the request may be retried as it is.
 */
export function isConnectionLost(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (LOST_CONNECTION_SQLSTATE.test(code) || LOST_CONNECTION_NODE_CODES.has(code))) return true;
  return LOST_CONNECTION_MESSAGES.test(err.message);
}

/** SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100), and the file system's ENOSPC/EDQUOT: the server's disk is full. */
const DISK_FULL_CODES = new Set(['SQLITE_FULL', '53100', 'ENOSPC', 'EDQUOT']);

/** Whether an error means the database (or a file the server writes) ran out of space: retrying will not help until space is freed. */
export function isDiskFull(err: unknown): boolean {
  const code = err instanceof Error && 'code' in err ? err.code : undefined;
  return typeof code === 'string' && DISK_FULL_CODES.has(code);
}
