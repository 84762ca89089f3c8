/**
 * Kysely's SQLite driver, with three changes:
 *
 * - Transactions begin IMMEDIATE: they take the write lock first, waiting up
 *   to busy_timeout for it. A deferred one that read and then wrote would get
 *   SQLITE_BUSY at once, with no wait, whenever another process (a `drover
 *   admin` command, a second server on the same file) wrote in between.
 * - SQLite rolls a transaction back by itself when a statement fails with
 *   SQLITE_FULL, IOERR or NOMEM; Kysely's own ROLLBACK then fails with "no
 *   transaction is active" and that error would hide the real one (a full
 *   disk would read as an internal error). The first error stands.
 * - Given a `WriteLock` (the workers of `--workers N`,
 *   cluster-write-lock.ts), a transaction, and a statement that writes
 *   outside one, first wait for it without blocking the process; reads never
 *   wait for it (WAL lets them run beside the writer). While waiting, a
 *   writer steps aside from the one connection (`Turns`, Kysely's mutex
 *   with a way out): under Kysely's own mutex every read of the process
 *   queued behind a write that waited for another process's long
 *   transaction, and a worker read its agents' orders seconds after an
 *   activation had committed (bench/README.md, fourteenth pass).
 */
import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type QueryResult, type SqliteDialectConfig } from 'kysely';
import type { ReleaseWriteLock, WriteLock } from './cluster-write-lock.js';
import type { CachingDatabase } from './statement-cache.js';

const BEGIN = CompiledQuery.raw('begin immediate');

/** The one connection's turns, first come first served: Kysely's mutex, which a writer leaves while it waits for the write lock. */
class Turns {
  #held = false;
  readonly #waiting: (() => void)[] = [];

  async take(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  /** The next waiting caller has the connection now (held stays set), or nobody. */
  give(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#held = false;
  }
}

/** The one connection, seen through the write lock: autocommit writes take it around themselves, a transaction holds it throughout. */
class WriteLockedConnection implements DatabaseConnection {
  /** Set while a transaction holds the lock. */
  release: ReleaseWriteLock | null = null;

  constructor(
    readonly inner: DatabaseConnection,
    private readonly lock: WriteLock,
    private readonly database: CachingDatabase,
    private readonly turns: Turns,
  ) {}

  /** The write lock, waited for with the connection left to the process's other callers; the caller has its turn again after. */
  private async writeLock(): Promise<ReleaseWriteLock> {
    this.turns.give();
    try {
      return await this.lock.acquire();
    } finally {
      await this.turns.take();
    }
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // The statement cache makes this prepare a look-up; better-sqlite3 says whether the statement writes.
    if (this.release !== null || this.database.prepare(query.sql).readonly) return this.inner.executeQuery<R>(query);
    const release = await this.writeLock();
    try {
      return await this.inner.executeQuery<R>(query);
    } finally {
      release();
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    // Kysely streams selects only.
    return this.inner.streamQuery<R>(query, chunkSize);
  }

  /** Waits for the lock, then begins; the transaction holds the lock until `endTransaction`. */
  async beginTransaction(): Promise<void> {
    this.release = await this.writeLock();
    try {
      await this.inner.executeQuery(BEGIN);
    } catch (err) {
      this.endTransaction();
      throw err;
    }
  }

  endTransaction(): void {
    this.release?.();
    this.release = null;
  }
}

interface DriverConfig extends SqliteDialectConfig {
  readonly database: CachingDatabase;
  readonly writeLock?: WriteLock | undefined;
}

class DroverSqliteDriver extends SqliteDriver {
  /** With a write lock: the connection, and its turns in place of Kysely's mutex. */
  #locked: WriteLockedConnection | null = null;
  readonly #turns = new Turns();

  constructor(private readonly config: DriverConfig) {
    super(config);
  }

  override async init(): Promise<void> {
    await super.init();
    const lock = this.config.writeLock;
    if (!lock) return;
    const connection = await super.acquireConnection();
    await super.releaseConnection();
    this.#locked = new WriteLockedConnection(connection, lock, this.config.database, this.#turns);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    if (!this.#locked) return super.acquireConnection();
    await this.#turns.take();
    return this.#locked;
  }

  override async releaseConnection(): Promise<void> {
    if (this.#locked) this.#turns.give();
    else await super.releaseConnection();
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    if (connection instanceof WriteLockedConnection) await connection.beginTransaction();
    else await connection.executeQuery(BEGIN);
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.commitTransaction(connection);
    } finally {
      if (connection instanceof WriteLockedConnection) connection.endTransaction();
    }
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.rollbackTransaction(connection);
    } catch (err) {
      if (!(err instanceof Error && err.message.includes('no transaction is active'))) throw err;
    } finally {
      if (connection instanceof WriteLockedConnection) connection.endTransaction();
    }
  }
}

export class DroverSqliteDialect extends SqliteDialect {
  readonly #config: DriverConfig;
  constructor(config: DriverConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new DroverSqliteDriver(this.#config);
  }
}
