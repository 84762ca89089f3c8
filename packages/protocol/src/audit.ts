/**
 * The audit log's API shapes: one entry (who did what to which target,
 * when, from which address, in which workspace), a page of entries and the
 * filters of `GET …/audit`. Actions are `noun.verb` names (`token.create`,
 * `deployment.cancel`; the list is in docs/audit.md); details are a few
 * scalar facts, never a secret.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Nullable, OffsetSchema, PlainText, SafeInteger, Timestamp, Uuid, WorkspaceNameSchema } from './schemas.js';

/** An action name: lowercase words, dot-separated, at least `noun.verb`. */
export const AUDIT_ACTION_PATTERN = '^[a-z][a-z0-9-]*(?:\\.[a-z][a-z0-9-]*)+$';

/** Entries are kept this many days unless the server says otherwise (`--audit-retention-days`, 0: for ever). */
export const DEFAULT_AUDIT_RETENTION_DAYS = 365;

/** The largest page of `GET …/audit`. */
export const MAX_AUDIT_PAGE = 500;

export const AuditActorSchema = Type.Object({
  /** `local`: a command run on the server's machine against its database (`drover user …`). */
  kind: Type.Union([Type.Literal('user'), Type.Literal('token'), Type.Literal('local')]),
  /** User name, token id, or the local account name. */
  id: Type.String(),
  /** User name, the token's description (its id when it has none), or account@host. */
  label: Type.String(),
});
export type AuditActor = Static<typeof AuditActorSchema>;

/** A detail value: a short scalar (the server cuts long strings). */
export const AuditDetailsSchema = Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]));
export type AuditDetails = Static<typeof AuditDetailsSchema>;

export const AuditEntrySchema = Type.Object({
  id: Uuid,
  at: Timestamp,
  action: Type.String({ pattern: AUDIT_ACTION_PATTERN }),
  actor: AuditActorSchema,
  /** What it acted on: a token id, an agent or cache name, a deployment or activation id, a user name; null when the action names none. */
  target: Nullable(Type.String()),
  /** The workspace it happened in (its name then); null for server-wide actions (users, grants in every workspace). */
  workspace: Nullable(Type.String()),
  /** The client's address as the server saw it, or `local`. */
  address: Type.String(),
  details: AuditDetailsSchema,
});
export type AuditEntry = Static<typeof AuditEntrySchema>;

export const AuditListSchema = Type.Object({
  entries: Type.Array(AuditEntrySchema),
  /** How many match the filter in all. */
  total: SafeInteger(),
  /** How long entries are kept (0: for ever). */
  retentionDays: SafeInteger({ minimum: 0 }),
});
export type AuditList = Static<typeof AuditListSchema>;

export const AuditQuerySchema = Type.Object({
  /** An action (`token.create`), or a noun for all its actions (`token`). */
  action: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9.-]*$', maxLength: 100 })),
  /** The actor's id or label, exactly. */
  actor: Type.Optional(PlainText({ minLength: 1, maxLength: 200 })),
  /** The target, exactly. */
  target: Type.Optional(PlainText({ minLength: 1, maxLength: 300 })),
  /** Entries at or after this time. */
  since: Type.Optional(Timestamp),
  /** Entries before this time. */
  until: Type.Optional(Timestamp),
  limit: Type.Optional(SafeInteger({ minimum: 1, maximum: MAX_AUDIT_PAGE, default: 50 })),
  offset: Type.Optional(OffsetSchema),
});

/** The server-wide log (global admins) also filters by workspace. */
export const AuditAllQuerySchema = Type.Composite([AuditQuerySchema, Type.Object({ workspace: Type.Optional(WorkspaceNameSchema) })]);
