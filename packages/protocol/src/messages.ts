/**
 * The agent websocket protocol, version 1.
 *
 * One websocket per agent at `AGENT_WS_PATH`, opened by the agent with
 * `Authorization: Bearer <agent token>`. Every frame is one JSON text message
 * with a `type` tag; messages are grouped by direction and each frame is
 * validated against its schema on arrival (a bad frame closes the socket with
 * `CLOSE_CODES.badFrame`). Keepalive uses websocket ping/pong frames, not
 * JSON, so an idle agent costs no parsing and no database write.
 *
 * Agent → server: `hello` first, then deployment events (and `agent.problems`
 * when its self-checks change). Events are
 * idempotent (log lines carry a per-deployment `seq`), so an agent replays
 * everything it has not seen acknowledged after any reconnect.
 * Server → agent: `registered`, `deploy`, `deployment.ack`, `deployment.cancel`.
 *
 * The frames are decoded by wire-codec.ts with checks generated from these
 * schemas (frame-checks-gen.ts: `npm run generate -w @drover/protocol` after
 * changing one).
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEADLINES } from './deploy-spec.js';
import { ClosureDiffSchema } from './closure-diff-schema.js';
import {
  AgentNameSchema,
  LogStreamSchema,
  MAX_LOG_SEQ,
  LabelsSchema,
  Nullable,
  OutcomeStatusSchema,
  SafeInteger,
  ShortText,
  StorePathSchema,
  SystemSchema,
  Timestamp,
  Uuid,
  WorkspaceNameSchema,
} from './schemas.js';
import { MAX_DRY_RUN_UNITS } from './dry-run.js';
import { MAX_LOG_LINE_CHARS, MAX_LOG_LINES_PER_FRAME, MAX_PROBLEM_CHARS, MAX_PROBLEMS } from './wire-constants.js';
import {
  AGE_RECIPIENT_PATTERN,
  MAX_SECRET_CIPHERTEXT_CHARS,
  MAX_SECRETS_PER_AGENT,
  SECRET_NAME_PATTERN,
  SECRET_OWNER_PATTERN,
  SECRET_PATH_PATTERN,
} from './secrets.js';

export * from './wire-constants.js';

// ── agent → server ─────────────────────────────────────────────────────────

export const HelloMessage = Type.Object({
  type: Type.Literal('hello'),
  protocol: SafeInteger({ minimum: 1 }),
  agent: AgentNameSchema,
  version: ShortText,
  system: SystemSchema,
  profile: Type.String({ maxLength: 4096 }),
  hostname: ShortText,
  /** What keeps the agent from deploying (its self-checks: Nix, the profile's directory); absent or empty: it can deploy. */
  problems: Type.Optional(Type.Array(Type.String({ maxLength: MAX_PROBLEM_CHARS }), { maxItems: MAX_PROBLEMS })),
  /** The labels the agent declares (`drover agent --label k=v`); absent from older agents: none. Admin labels override them. */
  labels: Type.Optional(LabelsSchema),
  /** The agent's age X25519 recipient (public key of the identity in its state directory); absent from older agents: no secrets can be set for it. */
  recipient: Type.Optional(Type.String({ pattern: AGE_RECIPIENT_PATTERN })),
});

export const DeploymentStartedMessage = Type.Object({
  type: Type.Literal('deployment.started'),
  id: Uuid,
  time: Timestamp,
});

export const DeploymentClosureSizeMessage = Type.Object({
  type: Type.Literal('deployment.closure-size'),
  id: Uuid,
  closureSize: SafeInteger(),
});

/** What the deployment changes, computed by the agent after substitution (sent only when the order asked with `wantDiff`). */
export const DeploymentDiffMessage = Type.Object({
  type: Type.Literal('deployment.diff'),
  id: Uuid,
  diff: ClosureDiffSchema,
});

export const LogLineSchema = Type.Object({
  seq: SafeInteger({ maximum: MAX_LOG_SEQ }),
  time: Timestamp,
  stream: LogStreamSchema,
  text: Type.String({ maxLength: MAX_LOG_LINE_CHARS + 64 }),
});

export const DeploymentLogMessage = Type.Object({
  type: Type.Literal('deployment.log'),
  id: Uuid,
  lines: Type.Array(LogLineSchema, { minItems: 1, maxItems: MAX_LOG_LINES_PER_FRAME }),
});

export const DeploymentFinishedMessage = Type.Object({
  type: Type.Literal('deployment.finished'),
  id: Uuid,
  time: Timestamp,
  status: OutcomeStatusSchema,
  reason: Nullable(Type.String({ maxLength: 4096 })),
  /** The store path the profile points to now (after a rollback, the old one). */
  activePath: Nullable(StorePathSchema),
});

const UnitList = Type.Array(Type.String({ maxLength: 1024 }), { maxItems: MAX_DRY_RUN_UNITS });
/** What a dry activation says a switch would do to systemd units (dry-run.ts). */
export const WouldRestartSchema = Type.Object({ restart: UnitList, start: UnitList, stop: UnitList, reload: UnitList });

/** A dry run's finding: the units its dry activation says would change, or null when the profile type has no dry activation (only the diff). Sent before `deployment.finished`. */
export const DeploymentWouldRestartMessage = Type.Object({
  type: Type.Literal('deployment.would-restart'),
  id: Uuid,
  wouldRestart: Nullable(WouldRestartSchema),
});

/** The self-check problems changed since the hello (fixed, or new): the same list as `hello.problems`, empty when it can deploy. */
export const AgentProblemsMessage = Type.Object({
  type: Type.Literal('agent.problems'),
  problems: Type.Array(Type.String({ maxLength: MAX_PROBLEM_CHARS }), { maxItems: MAX_PROBLEMS }),
});

export const AgentMessage = Type.Union([
  HelloMessage,
  AgentProblemsMessage,
  DeploymentStartedMessage,
  DeploymentClosureSizeMessage,
  DeploymentDiffMessage,
  DeploymentLogMessage,
  DeploymentWouldRestartMessage,
  DeploymentFinishedMessage,
]);
export type AgentMessage = Static<typeof AgentMessage>;
export type HelloMessage = Static<typeof HelloMessage>;
export type AgentProblemsMessage = Static<typeof AgentProblemsMessage>;
export type LogLine = Static<typeof LogLineSchema>;
export type DeploymentFinishedMessage = Static<typeof DeploymentFinishedMessage>;

// ── server → agent ─────────────────────────────────────────────────────────

export const CacheConfigSchema = Type.Object({
  substituter: Type.String({ maxLength: 2048 }),
  publicKey: Type.String({ maxLength: 1024 }),
  /** The server's own cache: `substituter` is a path on the server; the agent authenticates with its token. */
  builtin: Type.Optional(Type.Boolean()),
});
export type CacheConfig = Static<typeof CacheConfigSchema>;

export const RegisteredMessage = Type.Object({
  type: Type.Literal('registered'),
  agentId: Uuid,
  workspace: WorkspaceNameSchema,
  cache: Nullable(CacheConfigSchema),
  /** How often the server pings; the agent reconnects after ~2.5 intervals of silence. */
  pingIntervalMs: SafeInteger({ minimum: DEADLINES.activationTimeout.min, maximum: DEADLINES.activationTimeout.max }),
});

/** One secret in a deployment order: where and how to write it, and its age ciphertext. */
export const SecretOrderSchema = Type.Object({
  name: Type.String({ pattern: SECRET_NAME_PATTERN }),
  /** Absolute file path (default `${SECRETS_DIR}/NAME`, filled in by the server). */
  path: Type.String({ pattern: SECRET_PATH_PATTERN }),
  /** User and group (names or ids); null: the agent's own. */
  owner: Nullable(Type.String({ pattern: SECRET_OWNER_PATTERN })),
  group: Nullable(Type.String({ pattern: SECRET_OWNER_PATTERN })),
  /** File mode bits (e.g. 0o400 = 256). */
  mode: SafeInteger({ minimum: 0, maximum: 0o7777 }),
  /** Bumped on every change of the secret; the agent rewrites only what changed. */
  version: SafeInteger({ minimum: 1 }),
  /** The age file (binary format), base64. */
  ciphertext: Type.String({ maxLength: MAX_SECRET_CIPHERTEXT_CHARS }),
});
export type SecretOrder = Static<typeof SecretOrderSchema>;

export const DeploymentOrderSchema = Type.Object({
  id: Uuid,
  index: SafeInteger({ minimum: 1 }),
  storePath: StorePathSchema,
  rollbackScript: Nullable(StorePathSchema),
  /** The workspace's cache as it is when the order is sent (it may have changed since `registered`). */
  cache: Nullable(CacheConfigSchema),
  /** deploy.json's `activationTimeout` in ms; absent or null: the agent's own setting. */
  activationTimeoutMs: Type.Optional(Nullable(SafeInteger({ minimum: DEADLINES.activationTimeout.min, maximum: DEADLINES.activationTimeout.max }))),
  /** deploy.json's `confirmTimeout` in ms; absent or null: the agent's own setting. */
  confirmTimeoutMs: Type.Optional(Nullable(SafeInteger({ minimum: DEADLINES.confirmTimeout.min, maximum: DEADLINES.confirmTimeout.max }))),
  /** The server has no closure diff of this deployment: the agent computes one after substitution and sends `deployment.diff`. */
  wantDiff: Type.Optional(Type.Boolean()),
  /** A dry run (`activate --dry`): fetch and run the profile's dry activation, never switch. Absent: a real deployment. */
  dry: Type.Optional(Type.Boolean()),
  /**
   * The complete set of secrets meant for this agent, as it is when the order
   * is sent. Present (even empty): the agent writes these and deletes the
   * files of secrets it wrote before that are no longer here. Absent (an
   * older server): the agent leaves its secrets as they are.
   */
  secrets: Type.Optional(Type.Array(SecretOrderSchema, { maxItems: MAX_SECRETS_PER_AGENT })),
  /** A secrets-only deployment: write the secrets, never touch the profile (storePath is the agent's current path). */
  secretsOnly: Type.Optional(Type.Boolean()),
});
export type DeploymentOrder = Static<typeof DeploymentOrderSchema>;

export const DeployMessage = Type.Object({
  type: Type.Literal('deploy'),
  deployment: DeploymentOrderSchema,
});

export const DeploymentAckMessage = Type.Object({
  type: Type.Literal('deployment.ack'),
  id: Uuid,
});

export const DeploymentCancelMessage = Type.Object({
  type: Type.Literal('deployment.cancel'),
  id: Uuid,
  reason: ShortText,
});

export const ServerMessage = Type.Union([RegisteredMessage, DeployMessage, DeploymentAckMessage, DeploymentCancelMessage]);
export type ServerMessage = Static<typeof ServerMessage>;
export type RegisteredMessage = Static<typeof RegisteredMessage>;
