/**
 * Shapes of the HTTP API under /api/v1/. The server validates requests and
 * serialises responses with these schemas (and publishes them as OpenAPI);
 * the CLI reads responses through the same types.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  AgentNameSchema,
  DeploymentStatusSchema,
  LabelsSchema,
  LogStreamSchema,
  MAX_LOG_SEQ,
  Nullable,
  OffsetSchema,
  PlainText,
  SafeInteger,
  StorePathSchema,
  Timestamp,
  TokenKindSchema,
  Uuid,
  WorkspaceNameSchema,
} from './schemas.js';
import { literalUnion } from './schemas.js';
import { AGENT_STATUS_FILTERS, LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN, MAX_LABELS } from './labels.js';
import { ROLES } from './roles.js';
import { CACHE_NAME_PATTERN } from './cache.js';
import { ClosureDiffSchema } from './closure-diff-schema.js';
import { WouldRestartSchema } from './messages.js';

export const ErrorBodySchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  hint: Type.String(),
  details: Type.Optional(Type.Array(Type.Object({ path: Type.String(), code: Type.String(), message: Type.String() }))),
});

export const RoleSchema = literalUnion(ROLES);

export const ActorSchema = Type.Object({
  kind: Type.Union([Type.Literal('user'), Type.Literal('token')]),
  /** User name or token id. */
  id: Type.String(),
  /** User name, or the token's description (its id when it has none). */
  label: Type.String(),
});
export type Actor = Static<typeof ActorSchema>;

export const DeploymentSchema = Type.Object({
  id: Uuid,
  workspace: WorkspaceNameSchema,
  agent: AgentNameSchema,
  index: SafeInteger({ minimum: 1 }),
  storePath: StorePathSchema,
  rollbackScript: Nullable(StorePathSchema),
  status: DeploymentStatusSchema,
  reason: Nullable(Type.String()),
  activationId: Uuid,
  createdAt: Timestamp,
  startedAt: Nullable(Timestamp),
  finishedAt: Nullable(Timestamp),
  closureSize: Nullable(SafeInteger()),
  /** Who started it: a signed-in user or a token, with a label as it read at the time. */
  createdBy: Nullable(ActorSchema),
  /** The page of this deployment in the web UI (what `drover activate` prints). */
  url: Type.String(),
  /**
   * Set when an operator ended it while InProgress (its agent never came
   * back): who, why and when. It stays when the agent reports later and its
   * outcome replaces the operator's Failed.
   */
  endedBy: Type.Optional(Nullable(Type.Object({ actor: ActorSchema, reason: Type.String(), at: Timestamp }))),
  /** What it changes against the agent's path at the time (closure-diff.ts); null until the server or the agent computed it. */
  diff: Nullable(ClosureDiffSchema),
  /** A dry run (`activate --dry`): nothing was switched; it never supersedes, and is never superseded by, a real deployment. */
  dry: Type.Boolean(),
  /** A dry run's units that a switch would stop/reload/restart/start (NixOS); null when not known (not dry, not finished, or a profile type without a dry activation). */
  wouldRestart: Nullable(WouldRestartSchema),
  /** Its wave in a staged rollout (0-based); null outside a rollout. */
  wave: Nullable(SafeInteger({ minimum: 0 })),
  /** A secrets-only deployment (a secret changed): the agent rewrites its secrets, the profile is not touched; storePath is the path it ran then. */
  secretsOnly: Type.Boolean(),
});
export type Deployment = Static<typeof DeploymentSchema>;

/** GET …/deployments/:id: the deployment, the agent's deployment before it, and for a Superseded one the deployment that replaced it. */
export const DeploymentDetailSchema = Type.Composite([
  DeploymentSchema,
  Type.Object({
    previous: Nullable(Type.Object({ id: Uuid, storePath: StorePathSchema, status: DeploymentStatusSchema })),
    supersededBy: Nullable(Type.Object({ id: Uuid })),
  }),
]);
export type DeploymentDetail = Static<typeof DeploymentDetailSchema>;

export const DeploymentListSchema = Type.Object({
  deployments: Type.Array(DeploymentSchema),
  /** How many match the filter in all (the list holds at most `limit` of them, from `offset`). */
  total: Type.Optional(SafeInteger()),
});

/** Admin label changes: key → value (set) or null (remove the agent's own label of that key). */
const AdminLabelsSchema = Type.Record(Type.String({ pattern: LABEL_KEY_PATTERN }), Nullable(Type.String({ pattern: LABEL_VALUE_PATTERN })), {
  additionalProperties: false,
  maxProperties: MAX_LABELS,
});

/**
 * `PUT …/agents/:name/labels` replaces the admin's changes with these;
 * `PATCH` merges them into the admin's changes (a value sets, null removes —
 * `drover agents label NAME k=v k-`). Both answer the agent.
 */
export const AgentLabelsRequestSchema = Type.Object({ labels: AdminLabelsSchema }, { additionalProperties: false });

/** `GET …/fleet`: the workspace's agents (decommissioned ones not counted) by presence and by their latest deployment. */
export const FleetSchema = Type.Object({
  total: SafeInteger(),
  online: SafeInteger(),
  offline: SafeInteger(),
  succeeded: SafeInteger(),
  failed: SafeInteger(),
  /** Latest deployment Pending (or Queued by a rollout). */
  pending: SafeInteger(),
  inProgress: SafeInteger(),
  /** The latest deployment's path is not the one the agent runs (not there yet, or rolled back). */
  behind: SafeInteger(),
});
export type Fleet = Static<typeof FleetSchema>;

export const LastDeploymentSchema = Type.Object({
  id: Uuid,
  index: SafeInteger({ minimum: 1 }),
  status: DeploymentStatusSchema,
  storePath: StorePathSchema,
  createdAt: Timestamp,
  startedAt: Nullable(Timestamp),
  finishedAt: Nullable(Timestamp),
});

export const AgentSchema = Type.Object({
  id: Uuid,
  name: AgentNameSchema,
  workspace: WorkspaceNameSchema,
  online: Type.Boolean(),
  lastSeenAt: Nullable(Timestamp),
  connectedAt: Nullable(Timestamp),
  version: Nullable(Type.String()),
  system: Nullable(Type.String()),
  profile: Nullable(Type.String()),
  hostname: Nullable(Type.String()),
  /** Why the agent cannot deploy, as its last hello said (empty: it can). */
  problems: Type.Array(Type.String()),
  /**
   * Another agent process connected with this name from another host and
   * replaced this one lately (within the last hour): when, and the hosts
   * (the replaced one first, then the one connected now).
   */
  conflict: Nullable(Type.Object({ at: Timestamp, hostnames: Type.Array(Type.String()) })),
  currentStorePath: Nullable(StorePathSchema),
  lastDeployment: Nullable(LastDeploymentSchema),
  createdAt: Timestamp,
  /** The labels selectors see: the agent's own (its hello) with the admin's changes applied (admin wins). */
  labels: LabelsSchema,
  /** What the agent declared in its last hello (`drover agent --label`). */
  agentLabels: LabelsSchema,
  /** An admin's changes over them: a value sets the label, null removes the agent's own. */
  adminLabels: AdminLabelsSchema,
  /** The agent's age X25519 recipient from its last hello (what `drover secret set` encrypts to); null: it sent none (an older agent), no secret can be set for it. */
  recipient: Nullable(Type.String()),
});
export type Agent = Static<typeof AgentSchema>;
export const AgentListSchema = Type.Object({
  agents: Type.Array(AgentSchema),
  /** How many match the filter in all (the list holds at most `limit` of them, from `offset`). */
  total: SafeInteger(),
});
export const AgentListQuerySchema = Type.Object({
  /** Substring of the agent name, case-insensitive. */
  q: Type.Optional(PlainText({ maxLength: 64 })),
  /** online/offline, the latest deployment's status, or behind (see AGENT_STATUS_FILTERS). */
  status: Type.Optional(literalUnion(AGENT_STATUS_FILTERS)),
  /** A label selector, `role=web,region!=eu` (labels.ts). */
  selector: Type.Optional(Type.String({ maxLength: 2048 })),
  /** Without a limit every matching agent is returned. */
  limit: Type.Optional(SafeInteger({ minimum: 1, maximum: 10_000 })),
  offset: Type.Optional(OffsetSchema),
});

/** The body is deploy.json itself; it is validated by deploySpecProblems so every problem is reported. */
/** A deploy.json (see deploy-spec.ts for the rules on names and store paths, checked with every problem reported). */
export const ActivateRequestSchema = Type.Object(
  {
    agents: Type.Record(Type.String(), Type.String(), { description: 'agent name → store path', minProperties: 1 }),
    rollbackScript: Type.Optional(Nullable(Type.Record(Type.String(), Type.String(), { description: 'system → store path' }))),
    activationTimeout: Type.Optional(Nullable(Type.String({ maxLength: 32, description: 'kill and roll back an activation that runs longer (e.g. "5m")' }))),
    confirmTimeout: Type.Optional(
      Nullable(Type.String({ maxLength: 32, description: 'roll back unless the machine reaches the server again within this after activation (e.g. "60s")' })),
    ),
    /** A staged rollout (rollout.ts); its rules are checked by deploySpecProblems with every problem named. */
    rollout: Type.Optional(Nullable(Type.Unknown({ description: 'staged rollout: waves, maxParallel, maxFailures, pause, onFailure' }))),
  },
  { additionalProperties: false },
);
export type ActivateRequest = Static<typeof ActivateRequestSchema>;
const TrueFalse = Type.Union([Type.Literal('true'), Type.Literal('false')]);
/**
 * `?cacheCheck=false`: create the deployments without checking that the agents' cache holds every store path.
 * `?dry=true`: dry runs — the agents fetch and run the profile's dry activation, nothing is switched.
 * `?on=SELECTOR`: only the spec's agents matching the selector. `?force=true`: deploy agents already on the path too.
 */
export const ActivateQuerySchema = Type.Object({
  cacheCheck: Type.Optional(TrueFalse),
  on: Type.Optional(PlainText({ maxLength: 1024 })),
  force: Type.Optional(TrueFalse),
  dry: Type.Optional(TrueFalse),
});

export const ActivatedAgentSchema = Type.Object({
  id: Uuid,
  index: SafeInteger({ minimum: 1 }),
  url: Type.String(),
  storePath: StorePathSchema,
  online: Type.Boolean(),
  lastSeenAt: Nullable(Timestamp),
  /** Its wave in a staged rollout (0-based); null outside a rollout. */
  wave: Nullable(SafeInteger({ minimum: 0 })),
});
export const ActivateResponseSchema = Type.Object({
  activationId: Uuid,
  agents: Type.Record(Type.String(), ActivatedAgentSchema),
  /** Agents of the spec already on their path (and not behind): no deployment was created for them. */
  unchanged: Type.Array(AgentNameSchema),
  /** The activation's page in the web UI. */
  url: Type.String(),
});
export type ActivateResponse = Static<typeof ActivateResponseSchema>;

const ROLLOUT_STATES = ['running', 'paused', 'completed', 'stopped', 'aborted'] as const;
const WAVE_STATES = ['waiting', 'running', 'pausing', 'succeeded', 'failed', 'held'] as const;
/** How many deployments are in each status (every status present, 0 when none). */
const Count = SafeInteger({ minimum: 0 });
const StatusCountsSchema = Type.Object({
  Queued: Count,
  Pending: Count,
  InProgress: Count,
  Succeeded: Count,
  Failed: Count,
  Cancelled: Count,
  Superseded: Count,
  Held: Count,
});
export const RolloutViewSchema = Type.Object({
  state: literalUnion(ROLLOUT_STATES),
  waves: Type.Array(
    Type.Object({
      index: SafeInteger({ minimum: 0 }),
      label: Type.String(),
      agents: SafeInteger({ minimum: 0 }),
      counts: StatusCountsSchema,
      state: literalUnion(WAVE_STATES),
    }),
  ),
  currentWave: SafeInteger({ minimum: 0 }),
  maxParallel: Nullable(SafeInteger({ minimum: 1 })),
  /** As given in the spec: a count, or a percentage such as "5%". */
  maxFailures: Type.Union([SafeInteger({ minimum: 0 }), Type.String()]),
  failures: SafeInteger({ minimum: 0 }),
  /** Milliseconds between waves. */
  pause: SafeInteger({ minimum: 0 }),
  onFailure: literalUnion(['stop', 'rollback'] as const),
  reason: Nullable(Type.String()),
  /** When the pause after the current wave ends (null when not pausing). */
  pauseUntil: Nullable(Timestamp),
  /** The activation that rolled the completed waves back (onFailure: rollback), once created. */
  rollbackActivationId: Nullable(Uuid),
});
/** GET …/activations/:id and the pause/resume/abort actions: the deployments and what the activation was. */
export const ActivationViewSchema = Type.Object({
  deployments: Type.Array(DeploymentSchema),
  activation: Type.Object({
    id: Uuid,
    createdAt: Timestamp,
    createdBy: Nullable(ActorSchema),
    /** The `on` selector that narrowed the spec, if any. */
    selector: Nullable(Type.String()),
    counts: StatusCountsSchema,
    unchanged: Type.Array(AgentNameSchema),
    /** The activation's page in the web UI. */
    url: Type.String(),
    rollout: Nullable(RolloutViewSchema),
  }),
});
export type ActivationView = Static<typeof ActivationViewSchema>;

export const LogLineJsonSchema = Type.Object({
  seq: SafeInteger({ maximum: MAX_LOG_SEQ }),
  time: Timestamp,
  stream: LogStreamSchema,
  text: Type.String(),
});
export type LogLineJson = Static<typeof LogLineJsonSchema>;
/** One page of a deployment's log (`?after=SEQ` forward, `?before=SEQ` or `?tail=true` backward; `?limit=` at most 5000). */
export const DeploymentLogSchema = Type.Object({
  deployment: DeploymentSchema,
  lines: Type.Array(LogLineJsonSchema),
  /** Pass as `after` for the following lines; null when none is stored yet. */
  next: Nullable(Type.Integer()),
  /** Pass as `before` for the preceding lines; null when there are none. */
  previous: Nullable(Type.Integer()),
});

/**
 * Which agent names an agent token may connect as: `bound` only `agent`;
 * `claim` (created --unbound, not connected yet) the first name it connects
 * with, which then binds it; `any` every name in its workspace (unbound
 * tokens created before bound became the default). null for other kinds.
 */
export const AgentBindingSchema = Type.Union([Type.Literal('bound'), Type.Literal('claim'), Type.Literal('any')]);
export type AgentBinding = Static<typeof AgentBindingSchema>;

export const TokenInfoSchema = Type.Object({
  id: Type.String(),
  kind: TokenKindSchema,
  workspace: WorkspaceNameSchema,
  agent: Nullable(AgentNameSchema),
  agentBinding: Nullable(AgentBindingSchema),
  description: Type.String(),
  createdAt: Timestamp,
  lastUsedAt: Nullable(Timestamp),
  revokedAt: Nullable(Timestamp),
});
export type TokenInfo = Static<typeof TokenInfoSchema>;
export const TokenListSchema = Type.Object({ tokens: Type.Array(TokenInfoSchema) });
export const TokenCreateRequestSchema = Type.Object(
  {
    kind: TokenKindSchema,
    /** Agent tokens: the agent it is for. Required unless `unbound`. */
    agent: Type.Optional(AgentNameSchema),
    /** Agent tokens for fleet enrolment: no name yet; the first connection claims one and binds the token to it. */
    unbound: Type.Optional(Type.Boolean()),
    description: Type.Optional(PlainText({ maxLength: 256 })),
    /** push/pull tokens: only this binary cache (default: every cache of the workspace). */
    cache: Type.Optional(Type.String({ pattern: CACHE_NAME_PATTERN, maxLength: 64 })),
  },
  { additionalProperties: false },
);
/** POST …/deployments/:id/end: why an operator ends an InProgress deployment whose agent never reported. */
export const DeploymentEndRequestSchema = Type.Object({ reason: PlainText({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false });
export type DeploymentEndRequest = Static<typeof DeploymentEndRequestSchema>;

export const TokenCreateResponseSchema = Type.Object({ token: Type.String(), info: TokenInfoSchema });

export const WorkspaceSchema = Type.Object({
  name: WorkspaceNameSchema,
  createdAt: Timestamp,
  cache: Nullable(Type.Object({ substituter: Type.String(), publicKey: Type.String() })),
  /** The caller's role here: a user's grant, or what a token's kind amounts to. */
  role: Type.Optional(RoleSchema),
});
export type Workspace = Static<typeof WorkspaceSchema>;
export const WorkspaceListSchema = Type.Object({ workspaces: Type.Array(WorkspaceSchema) });
export const WorkspaceCreateRequestSchema = Type.Object({ name: WorkspaceNameSchema }, { additionalProperties: false });
export const WorkspaceRenameRequestSchema = Type.Object({ name: WorkspaceNameSchema }, { additionalProperties: false });
/** DELETE /workspaces/:workspace?confirm=NAME — the name typed again, so a slip deletes nothing. */
export const WorkspaceDeleteQuerySchema = Type.Object({ confirm: PlainText({ maxLength: 64 }) });

export const RoleGrantSchema = Type.Object({
  /** null: the role holds in every workspace. */
  workspace: Nullable(WorkspaceNameSchema),
  role: RoleSchema,
});
export const UserSchema = Type.Object({
  name: Type.String(),
  grants: Type.Array(RoleGrantSchema),
  createdAt: Timestamp,
});
export type User = Static<typeof UserSchema>;

export const LoginRequestSchema = Type.Object(
  { name: PlainText({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
/** GET/POST /api/v1/session. */
export const SessionSchema = Type.Object({
  user: UserSchema,
  /** Workspaces this user can see, with the role it holds in each. */
  workspaces: Type.Array(Type.Object({ name: WorkspaceNameSchema, role: RoleSchema })),
  /** Send back as the X-Drover-CSRF header on every POST/PUT/PATCH/DELETE made with the session cookie. */
  csrfToken: Type.String(),
  expiresAt: Timestamp,
});
export type Session = Static<typeof SessionSchema>;

/** GET /api/v1/info — public facts the UI needs to print ready-made commands. */
export const ServerInfoSchema = Type.Object({ version: Type.String(), publicUrl: Type.String() });

export const WorkspaceCacheRequestSchema = Type.Object(
  {
    substituter: Nullable(PlainText({ minLength: 1, maxLength: 2048 })),
    publicKey: Nullable(PlainText({ minLength: 1, maxLength: 1024 })),
  },
  { additionalProperties: false },
);
