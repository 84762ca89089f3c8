/**
 * TypeBox building blocks shared by the wire messages and the HTTP API, so a
 * store path or an agent name is checked by the same rule everywhere.
 */
import { Type, type TLiteral, type TSchema, type TUnion } from '@sinclair/typebox';
import { DEPLOYMENT_STATUSES, LOG_STREAMS, OUTCOME_STATUSES } from './deployments.js';
import { AGENT_NAME_PATTERN, STORE_PATH_PATTERN, SYSTEM_PATTERN, WORKSPACE_NAME_PATTERN } from './names.js';
import { TOKEN_KINDS } from './tokens.js';

export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

export const Uuid = Type.String({ pattern: UUID_PATTERN });
export const AgentNameSchema = Type.String({ pattern: AGENT_NAME_PATTERN, minLength: 1, maxLength: 64 });
export const WorkspaceNameSchema = Type.String({ pattern: WORKSPACE_NAME_PATTERN, minLength: 1, maxLength: 64 });
export const StorePathSchema = Type.String({ pattern: STORE_PATH_PATTERN, maxLength: 300 });
export const SystemSchema = Type.String({ pattern: SYSTEM_PATTERN, maxLength: 64 });
/** RFC 3339 timestamps in UTC, as `Date#toISOString` writes them. */
export const Timestamp = Type.String({ maxLength: 40 });
export const ShortText = Type.String({ maxLength: 256 });

export function literalUnion<const T extends readonly string[]>(values: T): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(values.map((v) => Type.Literal(v))) as TUnion<TLiteral<T[number]>[]>;
}

export const DeploymentStatusSchema = literalUnion(DEPLOYMENT_STATUSES);
export const OutcomeStatusSchema = literalUnion(OUTCOME_STATUSES);
export const LogStreamSchema = literalUnion(LOG_STREAMS);
export const TokenKindSchema = literalUnion(TOKEN_KINDS);

export function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}
