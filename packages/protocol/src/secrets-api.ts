/**
 * Shapes of the secrets API (`/api/v1/secrets`, and under a named workspace
 * `/api/v1/workspaces/:workspace/secrets`). A secret is set with its age
 * ciphertext — encrypted by the client to each target agent's recipient —
 * and read back as metadata only: no response ever carries ciphertext.
 * Field rules beyond types (name, path, owner, mode, the age format) are the
 * server's (secrets/service.ts), so each problem gets a message naming it.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ActorSchema, DeploymentSchema } from './api.js';
import { AgentNameSchema, Nullable, PlainText, SafeInteger, Timestamp } from './schemas.js';
import { MAX_SECRET_CIPHERTEXT_CHARS } from './secrets.js';

/** Most agents one secret can be set for in one request. */
export const MAX_SECRET_TARGETS = 10_000;

/** `:name` of a secret; a name that cannot exist is answered 404 (control characters: 400). */
export const SecretNameParamsSchema = Type.Object({ name: PlainText({ maxLength: 64 }) });

export const SecretTargetSchema = Type.Object({
  agent: AgentNameSchema,
  /** The recipient the ciphertext was encrypted to: the server refuses it unless it is the agent's current one. */
  recipient: Type.String({ maxLength: 128 }),
});

export const SecretSetRequestSchema = Type.Object({
  /** The agents that receive the secret (at least one), each with the recipient the client encrypted to. */
  targets: Type.Array(SecretTargetSchema, { minItems: 1, maxItems: MAX_SECRET_TARGETS }),
  /** The age file (binary format) as base64, encrypted to every target's recipient; over MAX_SECRET_CIPHERTEXT_CHARS the service answers 413 DROVER_ERR_SECRET_LIMIT (no schema limit, so it can say so). */
  ciphertext: Type.String({ description: `base64 of the binary age file, at most ${MAX_SECRET_CIPHERTEXT_CHARS} characters` }),
  /** Absolute file path on the agents; default `/run/drover/secrets/NAME`. */
  path: Type.Optional(Type.String({ maxLength: 4096 })),
  /** User and group (names or numeric ids); null or absent: the agent's own. */
  owner: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
  group: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
  /** File mode bits, e.g. 256 (octal 0400, the default). */
  mode: Type.Optional(SafeInteger({ minimum: 0, maximum: 0o7777 })),
  /** false: store only; the agents get the change with their next deployment (no secrets-only deployment is queued). */
  deploy: Type.Optional(Type.Boolean()),
});
export type SecretSetRequest = Static<typeof SecretSetRequestSchema>;

export const SecretSchema = Type.Object({
  name: Type.String(),
  path: Type.String(),
  owner: Nullable(Type.String()),
  group: Nullable(Type.String()),
  mode: SafeInteger(),
  /** 1 when created, one more on every change. */
  version: SafeInteger({ minimum: 1 }),
  /** The agents it is for; `recipientChanged`: the agent's recipient is no longer the one it was encrypted to (it cannot decrypt it: set it again). */
  targets: Type.Array(Type.Object({ agent: AgentNameSchema, recipientChanged: Type.Boolean() })),
  /** Bytes of the age ciphertext (binary). */
  size: SafeInteger(),
  createdAt: Timestamp,
  createdBy: Nullable(ActorSchema),
  updatedAt: Timestamp,
  updatedBy: Nullable(ActorSchema),
});
export type Secret = Static<typeof SecretSchema>;

export const SecretListSchema = Type.Object({ secrets: Type.Array(SecretSchema) });

/** What a change of secrets set in motion. */
const SecretChangeFields = {
  /** The secrets-only deployments queued, one per affected agent (empty with `deploy: false`). */
  deployments: Type.Array(DeploymentSchema),
  /** Affected agents that get the change with their next deployment instead: one is already Pending, nothing was deployed to them yet, or `deploy: false`. */
  withNextDeployment: Type.Array(AgentNameSchema),
};

export const SecretSetResponseSchema = Type.Object({ secret: SecretSchema, ...SecretChangeFields });
export type SecretSetResponse = Static<typeof SecretSetResponseSchema>;

/** `DELETE …/secrets/:name?deploy=false`: remove without queueing secrets-only deployments. */
export const SecretRemoveQuerySchema = Type.Object({ deploy: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) });

export const SecretRemoveResponseSchema = Type.Object(SecretChangeFields);
export type SecretRemoveResponse = Static<typeof SecretRemoveResponseSchema>;
