/**
 * Workspace rules that span tables: which workspaces a user sees (role
 * grants), and deleting one with its role grants, telling every replica to
 * close the connections of its tokens.
 */
import type { Kysely } from 'kysely';
import type { Role, Workspace } from '@drover/protocol';
import { deleteGrantsIn, roleIn, type UserRoles } from '../auth/users.js';
import { workspaceTokenIds } from '../auth/tokens.js';
import type { Bus } from '../bus/bus.js';
import type { Database } from '../db/schema.js';
import { deleteWorkspaceRow, listWorkspaces, toWorkspaceApi } from './repository.js';

/** Workspaces a user can see — all of them for a global role — with the user's role in each. */
export async function visibleWorkspaces(db: Kysely<Database>, roles: UserRoles): Promise<(Workspace & { readonly role: Role })[]> {
  const out: (Workspace & { readonly role: Role })[] = [];
  for (const row of await listWorkspaces(db)) {
    const role = roleIn(roles, row.id);
    if (role) out.push({ ...toWorkspaceApi(row), role });
  }
  return out;
}

/**
 * Deletes a workspace and, by cascade, its agents, tokens, deployments and
 * logs, and the role grants naming it; agents connected with its tokens are
 * disconnected at once on every replica, and its binary caches stop being
 * served.
 */
export async function deleteWorkspace(db: Kysely<Database>, bus: Bus, id: string): Promise<void> {
  const tokenIds = await db.transaction().execute(async (tx) => {
    const ids = await workspaceTokenIds(tx, id);
    await deleteGrantsIn(tx, id);
    await deleteWorkspaceRow(tx, id);
    return ids;
  });
  for (const tokenId of tokenIds) await bus.publish({ kind: 'token-revoked', tokenId });
  // Its caches went too: replicas forget the rows and narinfos they remember (cache/memo.ts).
  await bus.publish({ kind: 'cache-changed' });
}
