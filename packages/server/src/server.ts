/**
 * `startServer`: the control plane as a library. It opens the database,
 * migrates it, creates the `default` workspace, wires bus, hub and HTTP app,
 * and listens. The CLI's `drover server` is a thin wrapper; tests start it on
 * 127.0.0.1:0.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { LocalBus, type Bus } from './bus/bus.js';
import { PostgresBus } from './bus/postgres-bus.js';
import { ClusterBus } from './bus/cluster-bus.js';
import { clusterMetrics } from './cluster.js';
import type { ServerContext } from './context.js';
import { isPostgresUrl, logConnectionLost, migrateToLatest, openDatabase, SQLITE_BUSY_TIMEOUT_MS, type OpenDatabase } from './db/connect.js';
import { ClusterWriteLock } from './db/cluster-write-lock.js';
import { DeploymentWatcher } from './deployments/watcher.js';
import { buildApp } from './http/app.js';
import { agentSocketCap, capConnections, connectionCap, LISTEN_BACKLOG, ownOpenFilesLimit } from './http/connection-limits.js';
import { AgentHub, HELLO_TIMEOUT_MS } from './hub/agent-hub.js';
import { createLogger } from './logger.js';
import { ensureDefaultWorkspace } from './workspaces/repository.js';
import { TokenUsage } from './auth/usage.js';
import { TokenVerifier } from './auth/tokens.js';
import { DEFAULT_SESSION_TTL_MS } from './auth/sessions.js';
import { defaultHashQueueOptions } from './auth/hash-queue.js';
import { SignInGate, type PasswordVerifier } from './auth/sign-in.js';
import { Metrics } from './metrics.js';
import { DEFAULT_MAX_LOG_BYTES } from './deployments/repository.js';
import { DEFAULT_MAX_STREAM_MS } from './http/sse.js';
import { CacheService, type CacheOptions } from './cache/service.js';
import { RolloutEngine } from './rollouts/engine.js';
import { AuditRetention } from './audit/retention.js';
import { DEFAULT_AUDIT_RETENTION_DAYS } from '@drover/protocol';
import { webhookDefaults, Webhooks, type WebhookOptions } from './webhooks/runtime.js';
import { UsageRecorder } from './usage/recorder.js';
import { registerUsageMetrics } from './usage/service.js';
import { cachixCacheSetting } from './cachix/cache.js';
import { WorkerShare } from './cluster-share.js';

export interface ServerOptions {
  /** host:port to listen on; port 0 picks a free one. */
  readonly listen: string;
  readonly dataDir: string;
  readonly databaseUrl?: string | undefined;
  readonly databaseSchema?: string | undefined;
  /** Base URL printed in links; defaults to http://<listen address>. */
  readonly publicUrl?: string | undefined;
  readonly pingIntervalMs?: number | undefined;
  readonly lastSeenFlushMs?: number | undefined;
  readonly logger?: Logger | undefined;
  /** How long a web UI sign-in lasts (default 12 hours). */
  readonly sessionTtlMs?: number | undefined;
  /** The most log text one deployment stores, in bytes (default 64 MiB, 0: no limit); later lines are dropped. */
  readonly maxLogBytes?: number | undefined;
  /** How long an event stream stays open before the server ends it and the client reconnects (default 1 hour, 0: no bound). */
  readonly maxStreamMs?: number | undefined;
  /** Password hashes running at once (default: half of libuv's thread pool, at least 1). */
  readonly signInConcurrency?: number | undefined;
  /** Sign-ins waiting for a hash slot before 503 DROVER_ERR_SIGN_IN_BUSY (default 32). */
  readonly signInQueue?: number | undefined;
  /** Sign-ins of one client address waiting or running before 429 DROVER_ERR_TOO_MANY_SIGN_INS (default 4). */
  readonly signInPerAddress?: number | undefined;
  /** Tests: the password check (default scrypt, auth/passwords.ts). */
  readonly passwordVerifier?: PasswordVerifier | undefined;
  /** `cachix_cache`: "none" (default) or "builtin", the cache handed to Cachix agents (cachix/cache.ts). */
  readonly cachixCache?: string | undefined;
  /** Directory of the built web UI; defaults to @drover/web's dist/. */
  readonly webRoot?: string | null | undefined;
  /** Set in a `--workers` cluster worker: the primary migrated already; on SQLite the bus runs over IPC. */
  readonly clusterWorker?: boolean | undefined;
  /** Agent sockets one process holds before answering 503 DROVER_ERR_AGENTS_FULL; default: by its open-files limit (http/connection-limits.ts). */
  readonly maxAgentSockets?: number | undefined;
  /** An agent socket silent this long after its upgrade, without a hello, is closed 4408; default `HELLO_TIMEOUT_MS` (60 s). */
  readonly helloTimeoutMs?: number | undefined;
  /** A request body silent this long fails with 408 (DROVER_ERR_REQUEST_TIMEOUT); default 30 s. */
  readonly requestBodyIdleMs?: number | undefined;
  /** Compile every route's schemas at start-up, as Fastify does by default (http/lazy-schemas.ts): a test that wants a broken schema to fail the start. */
  readonly compileSchemasAtStart?: boolean | undefined;
  /** The built-in binary cache; NARs default to DATA_DIR/cache. */
  readonly cache?: Partial<CacheOptions> | undefined;
  /** How often every moving staged rollout is looked at, besides the bus events (default 5 s). */
  readonly rolloutSweepMs?: number | undefined;
  /** Days audit entries are kept (default 365, 0: for ever). */
  readonly auditRetentionDays?: number | undefined;
  /** Webhook settings; the key file defaults to DATA_DIR/webhook.key (replicas must share it). */
  readonly webhooks?: Partial<WebhookOptions> | undefined;
  /** How often connected agents are counted for agent-hours (default 60 s; the same on every replica). */
  readonly usageSampleMs?: number | undefined;
}

export interface RunningServer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly context: ServerContext;
  close(): Promise<void>;
}

/** Where npm workspaces put the built UI: @drover/web's dist/, if that package is installed. */
function defaultWebRoot(): string | null {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@drover/web/package.json')), 'dist');
  } catch {
    return null;
  }
}

export function splitListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen.trim());
  if (!m) throw new Error(`listen address ${JSON.stringify(listen)} must be HOST:PORT (e.g. 127.0.0.1:7700)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`listen port ${port} is out of range`);
  const host = m[1] ?? m[2];
  if (host === undefined) throw new Error(`listen address ${JSON.stringify(listen)} must be HOST:PORT (e.g. 127.0.0.1:7700)`);
  return { host, port };
}

/** A limit as given (0 meaning none), or its default. */
function orUnlimited(given: number | undefined, fallback: number): number {
  return given === undefined ? fallback : given === 0 ? Number.MAX_SAFE_INTEGER : given;
}

/** The sign-in gate from the settings, each defaulting on its own. */
function signInGate(options: ServerOptions): SignInGate {
  const defaults = defaultHashQueueOptions();
  return new SignInGate(
    {
      concurrency: options.signInConcurrency ?? defaults.concurrency,
      queueLength: options.signInQueue ?? defaults.queueLength,
      perAddress: options.signInPerAddress ?? defaults.perAddress,
    },
    options.passwordVerifier,
  );
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.logger ?? createLogger();
  const { host, port } = splitListen(options.listen);
  const pingIntervalMs = options.pingIntervalMs ?? 30_000;
  const lastSeenFlushMs = options.lastSeenFlushMs ?? 15_000;
  // The workers of --workers N on SQLite take turns writing without blocking (db/cluster-write-lock.ts).
  const writeLock = options.clusterWorker && !isPostgresUrl(options.databaseUrl) ? new ClusterWriteLock(SQLITE_BUSY_TIMEOUT_MS) : undefined;
  const database: OpenDatabase = await openDatabase({
    ...options,
    writeLock,
    onConnectionError: (err) => logConnectionLost(log, err),
    onCheckpointFailed: (problem) => log.warn({ problem }, 'checkpointing the SQLite write-ahead log failed; it grows until a checkpoint succeeds'),
  });
  let bus: Bus | undefined;
  let cache: CacheService | undefined;
  let share: WorkerShare | undefined;
  try {
    if (!options.clusterWorker) {
      await migrateToLatest(database);
      await ensureDefaultWorkspace(database.db);
    }
    const openedBus =
      database.dialect === 'postgres'
        ? await PostgresBus.start(database.db, database.pgConfig, database.schema, log)
        : options.clusterWorker
          ? new ClusterBus()
          : new LocalBus();
    bus = openedBus;
    const openedCache = await CacheService.open(database.db, openedBus, log, {
      ...options.cache,
      storage: options.cache?.storage ?? { kind: 'local', dir: join(options.dataDir, 'cache') },
    });
    cache = openedCache;
    const replicaId = randomUUID();
    const usage = new TokenUsage(database.db, log, lastSeenFlushMs);
    // Read at scrape time, when the hub exists.
    const metrics: Metrics = new Metrics((): number => hub.size, options.clusterWorker ? clusterMetrics : undefined);
    const openFiles = ownOpenFilesLimit();
    // With --workers N: this worker's share of the agents, by the sockets its hub holds (cluster-share.ts).
    share = options.clusterWorker ? new WorkerShare(() => hub.sockets) : undefined;
    const hub: AgentHub = new AgentHub({
      db: database.db,
      bus,
      log,
      metrics,
      replicaId,
      pingIntervalMs,
      lastSeenFlushMs,
      helloTimeoutMs: options.helloTimeoutMs ?? HELLO_TIMEOUT_MS,
      maxSockets: options.maxAgentSockets ?? (openFiles === null ? null : agentSocketCap(connectionCap(openFiles))),
      share,
      maxLogBytes: orUnlimited(options.maxLogBytes, DEFAULT_MAX_LOG_BYTES),
    });
    // Online = connection open and seen within two pings plus one flush.
    const presence = { onlineWindowMs: 2 * pingIntervalMs + lastSeenFlushMs + 5_000 };
    registerUsageMetrics(metrics.registry, database.db);
    const webhooks = new Webhooks(
      { db: database.db, bus, log, presence, publicUrl: () => ctx.publicUrl, registry: metrics.registry },
      { ...webhookDefaults(options.dataDir), ...options.webhooks },
    );
    const ctx: ServerContext = {
      db: database.db,
      dialect: database.dialect,
      bus,
      hub,
      watcher: new DeploymentWatcher(bus),
      rollouts: new RolloutEngine({ db: database.db, bus, log, sweepMs: options.rolloutSweepMs }),
      webhooks,
      usage: new UsageRecorder({ db: database.db, bus, log, presence, sampleMs: options.usageSampleMs ?? 60_000 }),
      tokens: new TokenVerifier(database.db),
      tokenUsage: usage,
      metrics,
      log,
      replicaId,
      presence,
      publicUrl: options.publicUrl ?? '',
      sessionTtlMs: options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS,
      maxStreamMs: orUnlimited(options.maxStreamMs, DEFAULT_MAX_STREAM_MS),
      signIn: signInGate(options),
      webRoot: options.webRoot === undefined ? defaultWebRoot() : options.webRoot,
      cachixCache: cachixCacheSetting(options.cachixCache),
      cache,
      auditRetention: new AuditRetention(database.db, log, options.auditRetentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS),
    };
    const app = await buildApp(ctx, { bodyIdleMs: options.requestBodyIdleMs, compileSchemasAtStart: options.compileSchemasAtStart });
    capConnections(app.server, log, openFiles);
    await app.listen({ host, port, backlog: LISTEN_BACKLOG });
    const address = app.server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
    if (!options.publicUrl) ctx.publicUrl = url;
    log.info({ url, database: database.dialect, replica: replicaId }, 'drover server listening');
    let closing: Promise<void> | undefined;
    return {
      url,
      app,
      context: ctx,
      close: () =>
        (closing ??= (async () => {
          ctx.watcher.close();
          await ctx.rollouts.stop();
          await ctx.webhooks.stop();
          await ctx.usage.stop();
          share?.close();
          await hub.close();
          await app.close();
          await ctx.auditRetention.stop();
          usage.stop();
          await usage.flush();
          await openedBus.close();
          await openedCache.close();
          await database.close();
          writeLock?.close();
        })()),
    };
  } catch (err) {
    await bus?.close().catch(() => {});
    await cache?.close().catch(() => {});
    await database.close().catch(() => {});
    writeLock?.close();
    share?.close();
    throw err;
  }
}
