/**
 * The audit entries of administration done on the server's machine against
 * its database (`drover user …`, and `drover token|workspace …` without
 * --server): the actor is the local account (`local`, account@host), the
 * address `local`. Changes made through the API are recorded by the server.
 */
import { hostname, userInfo } from 'node:os';
import type { AuditActor } from '@drover/protocol';
import { findWorkspace, recordAudit, type OpenDatabase } from '@drover/server';

function localActor(): AuditActor {
  let account: string;
  try {
    account = userInfo().username;
  } catch {
    account = process.env['USER'] ?? 'unknown';
  }
  return { kind: 'local', id: account, label: `${account}@${hostname()}` };
}

/** Records a local change; `workspace` names the workspace it happened in (null: server-wide). */
export async function recordLocal(
  database: OpenDatabase,
  action: string,
  target: string | null,
  workspace: string | null,
  details: Record<string, unknown> = {},
): Promise<void> {
  const row = workspace === null ? null : await findWorkspace(database.db, workspace).catch(() => null);
  await recordAudit(database.db, {
    action,
    actor: localActor(),
    target,
    workspace: workspace === null ? null : { id: row?.id ?? null, name: workspace },
    address: 'local',
    details,
  });
}
