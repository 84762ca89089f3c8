/**
 * TypeBox building blocks shared by the wire messages and the HTTP API, so a
 * store path or an agent name is checked by the same rule everywhere.
 */
import { Type, type TLiteral, type TSchema, type TUnion } from '@sinclair/typebox';
import { DEPLOYMENT_STATUSES, LOG_STREAMS, OUTCOME_STATUSES } from './deployments.js';
import { AGENT_NAME_PATTERN, STORE_PATH_PATTERN, SYSTEM_PATTERN, WORKSPACE_NAME_PATTERN } from './names.js';
import { TOKEN_KINDS } from './tokens.js';
import { LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN, MAX_LABELS } from './labels.js';

export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const uuidRe = new RegExp(UUID_PATTERN);

/** Whether an id from a URL can name a row at all (ids are lowercase UUIDs); a query with anything else would only find nothing. */
export function isUuid(value: string): boolean {
  return uuidRe.test(value);
}

export const Uuid = Type.String({ pattern: UUID_PATTERN });
export const AgentNameSchema = Type.String({ pattern: AGENT_NAME_PATTERN, minLength: 1, maxLength: 64 });
export const WorkspaceNameSchema = Type.String({ pattern: WORKSPACE_NAME_PATTERN, minLength: 1, maxLength: 64 });
export const StorePathSchema = Type.String({ pattern: STORE_PATH_PATTERN, maxLength: 300 });
export const SystemSchema = Type.String({ pattern: SYSTEM_PATTERN, maxLength: 64 });
/**
 * RFC 3339 timestamps in UTC, as `Date#toISOString` writes them
 * (`2026-01-31T23:59:59.123Z`; the fraction is optional, up to nanoseconds).
 * Stored as text, they sort as they compare, so nothing else may pass.
 */
export const TIMESTAMP_PATTERN = '^\\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\\d|3[01])T(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,9})?Z$';
export const Timestamp = Type.String({ pattern: TIMESTAMP_PATTERN, maxLength: 40 });

/**
 * Integers at the protocol edge: never beyond `Number.MAX_SAFE_INTEGER` (exact
 * in a JS number and in a PostgreSQL bigint), and tighter where a column or a
 * meaning bounds them (see the limits below).
 */
export function SafeInteger(options: { minimum?: number; maximum?: number; default?: number; description?: string } = {}) {
  return Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, ...options });
}
/** Log line numbers are a PostgreSQL `integer` column. */
export const MAX_LOG_SEQ = 2_147_483_647;
/** Skipping more rows than this in a list is never meaningful. */
export const MAX_LIST_OFFSET = 1_000_000_000;
/** `offset` of a paged list. */
export const OffsetSchema = SafeInteger({ maximum: MAX_LIST_OFFSET, default: 0 });
export const ShortText = Type.String({ maxLength: 256 });
/**
 * Text a user types (names, descriptions, filters, settings): no control
 * characters (U+0000-U+001F, U+007F), refused with 400 on both databases
 * alike. Text agents report is repaired instead (the server's db/text.ts).
 */
export const PLAIN_TEXT_PATTERN = '^[^\\u0000-\\u001F\\u007F]*$';
export function PlainText(options: { minLength?: number; maxLength: number }) {
  return Type.String({ pattern: PLAIN_TEXT_PATTERN, ...options });
}

export function literalUnion<const T extends readonly string[]>(values: T): TUnion<TLiteral<T[number]>[]> {
  return Type.Union(values.map((v) => Type.Literal(v)));
}

export const DeploymentStatusSchema = literalUnion(DEPLOYMENT_STATUSES);
export const OutcomeStatusSchema = literalUnion(OUTCOME_STATUSES);
export const LogStreamSchema = literalUnion(LOG_STREAMS);
export const TokenKindSchema = literalUnion(TOKEN_KINDS);

/** An agent's labels, `{role: "web"}` (labels.ts owns the syntax; the server also runs labelsProblems). */
export const LabelsSchema = Type.Record(Type.String({ pattern: LABEL_KEY_PATTERN }), Type.String({ pattern: LABEL_VALUE_PATTERN }), {
  additionalProperties: false,
  maxProperties: MAX_LABELS,
});

export function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}
