/**
 * What every part of a running server shares: the database, the bus, the
 * agent hub and the settings that shape responses.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Presence } from './agents/repository.js';
import type { Bus } from './bus/bus.js';
import type { Database } from './db/schema.js';
import type { DialectName } from './db/connect.js';
import type { AgentHub } from './hub/agent-hub.js';
import type { DeploymentWatcher } from './deployments/watcher.js';
import type { TokenUsage } from './auth/usage.js';
import type { TokenVerifier } from './auth/tokens.js';
import type { Metrics } from './metrics.js';
import type { CacheService } from './cache/service.js';
import type { SignInGate } from './auth/sign-in.js';
import type { RolloutEngine } from './rollouts/engine.js';
import type { AuditRetention } from './audit/retention.js';
import type { Webhooks } from './webhooks/runtime.js';
import type { UsageRecorder } from './usage/recorder.js';
import type { CachixCacheSetting } from './cachix/cache.js';

export interface ServerContext {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
  readonly bus: Bus;
  readonly hub: AgentHub;
  readonly watcher: DeploymentWatcher;
  /** Moves staged rollouts (rollouts/engine.ts). */
  readonly rollouts: RolloutEngine;
  /** Queues and sends webhook deliveries (webhooks/runtime.ts). */
  readonly webhooks: Webhooks;
  /** Records agents per workspace and month (usage/recorder.ts). */
  readonly usage: UsageRecorder;
  /** Checks bearer tokens, reading the ones presented together at once (auth/tokens.ts). */
  readonly tokens: TokenVerifier;
  readonly tokenUsage: TokenUsage;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly replicaId: string;
  readonly presence: Presence;
  /** The built-in binary cache. */
  readonly cache: CacheService;
  /** Base URL for links printed to users (deployment pages). */
  publicUrl: string;
  /** How long a web UI sign-in lasts. */
  readonly sessionTtlMs: number;
  /** How long a server-sent event stream stays open before the server ends it (the client reconnects). */
  readonly maxStreamMs: number;
  /** The lockout and the bounded password-hashing queue of sign-ins. */
  readonly signIn: SignInGate;
  /** Which cache Cachix agents are handed (cachix/cache.ts): none (their machines' own) or the workspace's built-in one. */
  readonly cachixCache: CachixCacheSetting;
  /** The built web UI (index.html and assets/), or null when it is not built. */
  readonly webRoot: string | null;
  /** Deletes audit entries past their retention period (audit/retention.ts). */
  readonly auditRetention: AuditRetention;
}
