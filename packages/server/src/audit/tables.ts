/** The `audit_log` table (migration 0015): one row per recorded state change, kept for the retention period. */

export interface AuditLogTable {
  id: string;
  /** When it happened (ISO-8601, UTC). */
  at: string;
  /** The workspace it happened in; null for server-wide actions. No foreign key: entries outlive a deleted workspace. */
  workspace_id: string | null;
  /** The workspace's name at the time. */
  workspace_name: string | null;
  /** `noun.verb`, e.g. token.create. */
  action: string;
  actor_kind: 'user' | 'token' | 'local';
  actor_id: string;
  actor_label: string;
  target: string | null;
  /** The client's address (request.ip), or `local`. */
  address: string;
  /** The route that did it (`POST /api/v1/tokens`), null for local commands. */
  route: string | null;
  /** JSON object of scalar facts (audit/service.ts keeps secrets out). */
  details: string;
}
