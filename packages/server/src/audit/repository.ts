/**
 * The `audit_log` table: inserting an entry, reading a filtered page of
 * entries newest first (with the total), and deleting entries older than a
 * cut-off. What goes into an entry (and what never does) is decided by
 * audit/service.ts.
 */
import type { Kysely } from 'kysely';
import type { AuditActor, AuditDetails, AuditEntry } from '@drover/protocol';
import type { Database } from '../db/schema.js';
import type { AuditLogTable } from './tables.js';

/** Whose entries: one workspace's by id, a deleted one's by the name they were filed under, or (neither) all, server-wide ones included. */
export interface AuditWorkspaceFilter {
  readonly workspaceId?: string | undefined;
  readonly workspaceName?: string | undefined;
}

/** The filters of a page. */
export interface AuditFilter extends AuditWorkspaceFilter {
  /** An action exactly, or every action under it (`token` matches `token.create`). */
  readonly action?: string | undefined;
  /** The actor's id or label. */
  readonly actor?: string | undefined;
  readonly target?: string | undefined;
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  readonly limit: number;
  readonly offset?: number | undefined;
}

export async function insertAuditEntry(db: Kysely<Database>, row: AuditLogTable): Promise<void> {
  await db.insertInto('audit_log').values(row).execute();
}

function filtered(db: Kysely<Database>, filter: AuditFilter) {
  let q = db.selectFrom('audit_log');
  if (filter.workspaceId !== undefined) q = q.where('workspace_id', '=', filter.workspaceId);
  if (filter.workspaceName !== undefined) q = q.where('workspace_name', '=', filter.workspaceName);
  // The action filter's characters ([a-z0-9.-], see AuditQuerySchema) are never LIKE wildcards.
  const action = filter.action;
  if (action !== undefined) q = q.where((eb) => eb.or([eb('action', '=', action), eb('action', 'like', `${action}.%`)]));
  const actor = filter.actor;
  if (actor !== undefined) q = q.where((eb) => eb.or([eb('actor_id', '=', actor), eb('actor_label', '=', actor)]));
  if (filter.target !== undefined) q = q.where('target', '=', filter.target);
  if (filter.since !== undefined) q = q.where('at', '>=', filter.since);
  if (filter.until !== undefined) q = q.where('at', '<', filter.until);
  return q;
}

function parseDetails(text: string): AuditDetails {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
    const details: AuditDetails = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') details[k] = v;
    }
    return details;
  } catch {
    return {};
  }
}

function toEntry(row: AuditLogTable): AuditEntry {
  const actor: AuditActor = { kind: row.actor_kind, id: row.actor_id, label: row.actor_label };
  return {
    id: row.id,
    at: row.at,
    action: row.action,
    actor,
    target: row.target,
    workspace: row.workspace_name,
    address: row.address,
    details: parseDetails(row.details),
  };
}

/** One page of entries, newest first, and how many match in all. */
export async function listAuditEntries(db: Kysely<Database>, filter: AuditFilter): Promise<{ entries: AuditEntry[]; total: number }> {
  const rows = await filtered(db, filter)
    .selectAll()
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(filter.limit)
    .offset(filter.offset ?? 0)
    .execute();
  const counted = await filtered(db, filter)
    .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
    .executeTakeFirstOrThrow();
  return { entries: rows.map(toEntry), total: Number(counted.n) };
}

/** Deletes the entries before `cutoff`; says how many went. */
export async function deleteAuditEntriesBefore(db: Kysely<Database>, cutoff: string): Promise<number> {
  const result = await db.deleteFrom('audit_log').where('at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}
