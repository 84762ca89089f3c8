/**
 * Shapes of the HTTP API under /api/v1/. The server validates requests and
 * serialises responses with these schemas (and publishes them as OpenAPI);
 * the CLI reads responses through the same types.
 */
import { Type, type Static } from '@sinclair/typebox';
import {
  AgentNameSchema,
  DeploymentStatusSchema,
  LogStreamSchema,
  Nullable,
  ShortText,
  StorePathSchema,
  Timestamp,
  TokenKindSchema,
  Uuid,
  WorkspaceNameSchema,
} from './schemas.js';
import { CACHE_NAME_PATTERN } from './cache.js';

export const API_PREFIX = '/api/v1';

export const ErrorBodySchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  hint: Type.String(),
  details: Type.Optional(
    Type.Array(Type.Object({ path: Type.String(), code: Type.String(), message: Type.String() })),
  ),
});

export const DeploymentSchema = Type.Object({
  id: Uuid,
  workspace: WorkspaceNameSchema,
  agent: AgentNameSchema,
  index: Type.Integer(),
  storePath: StorePathSchema,
  rollbackScript: Nullable(StorePathSchema),
  status: DeploymentStatusSchema,
  reason: Nullable(Type.String()),
  activationId: Uuid,
  createdAt: Timestamp,
  startedAt: Nullable(Timestamp),
  finishedAt: Nullable(Timestamp),
  closureSize: Nullable(Type.Integer()),
  createdBy: Nullable(Type.String()),
  url: Type.String(),
});
export type Deployment = Static<typeof DeploymentSchema>;

export const DeploymentListSchema = Type.Object({ deployments: Type.Array(DeploymentSchema) });

export const LastDeploymentSchema = Type.Object({
  id: Uuid,
  index: Type.Integer(),
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
  currentStorePath: Nullable(StorePathSchema),
  lastDeployment: Nullable(LastDeploymentSchema),
  createdAt: Timestamp,
});
export type Agent = Static<typeof AgentSchema>;
export const AgentListSchema = Type.Object({ agents: Type.Array(AgentSchema) });

/** The body is deploy.json itself; it is validated by deploySpecProblems so every problem is reported. */
export const ActivateRequestSchema = Type.Object(
  {
    agents: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'agent name → store path' })),
    rollbackScript: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'system → store path' })),
  },
  { additionalProperties: true },
);

export const ActivatedAgentSchema = Type.Object({
  id: Uuid,
  index: Type.Integer(),
  url: Type.String(),
  storePath: StorePathSchema,
  online: Type.Boolean(),
  lastSeenAt: Nullable(Timestamp),
});
export const ActivateResponseSchema = Type.Object({
  activationId: Uuid,
  agents: Type.Record(Type.String(), ActivatedAgentSchema),
});
export type ActivateResponse = Static<typeof ActivateResponseSchema>;

export const LogLineJsonSchema = Type.Object({
  seq: Type.Integer(),
  time: Timestamp,
  stream: LogStreamSchema,
  text: Type.String(),
});
export type LogLineJson = Static<typeof LogLineJsonSchema>;
export const DeploymentLogSchema = Type.Object({
  deployment: DeploymentSchema,
  lines: Type.Array(LogLineJsonSchema),
});

export const TokenInfoSchema = Type.Object({
  id: Type.String(),
  kind: TokenKindSchema,
  workspace: WorkspaceNameSchema,
  agent: Nullable(AgentNameSchema),
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
    agent: Type.Optional(AgentNameSchema),
    description: Type.Optional(ShortText),
    /** push/pull tokens: only this binary cache (default: every cache of the workspace). */
    cache: Type.Optional(Type.String({ pattern: CACHE_NAME_PATTERN, maxLength: 64 })),
  },
  { additionalProperties: false },
);
export const TokenCreateResponseSchema = Type.Object({ token: Type.String(), info: TokenInfoSchema });

export const WorkspaceSchema = Type.Object({
  name: WorkspaceNameSchema,
  createdAt: Timestamp,
  cache: Nullable(Type.Object({ substituter: Type.String(), publicKey: Type.String() })),
});
export type Workspace = Static<typeof WorkspaceSchema>;
export const WorkspaceCacheRequestSchema = Type.Object(
  {
    substituter: Nullable(Type.String({ minLength: 1, maxLength: 2048 })),
    publicKey: Nullable(Type.String({ minLength: 1, maxLength: 1024 })),
  },
  { additionalProperties: false },
);

/** Server-sent events of GET /deployments/:id/log with Accept: text/event-stream. */
export const LOG_EVENTS = {
  /** data: LogLineJson; id: seq */
  line: 'line',
  /** data: Deployment, whenever its status or closure size changes */
  status: 'status',
  /** data: Deployment in a final state; the stream closes after it */
  end: 'end',
} as const;
