/**
 * The closure diff tables (diffs-tables.ts) as stored: recording a diff for
 * deployments (the first one recorded stays), reading one back, and the
 * neighbours of a deployment its page links to — the agent's deployment
 * before it, and the one after it that superseded it.
 */
import type { Kysely } from 'kysely';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ClosureDiffSchema, type ClosureDiff, type DeploymentDetail } from '@drover/protocol';
import { chunks } from '../db/chunks.js';
import type { Database } from '../db/schema.js';
import { nowIso } from '../db/time.js';

/** The key of a diff: the pair of paths it is between. */
function pairOf(diff: ClosureDiff): string {
  return `${diff.from ?? '-'} ${diff.to}`;
}

/** Records `diff` for these deployments of one workspace; a deployment that has one keeps it. */
export async function recordDiff(db: Kysely<Database>, workspaceId: string, diff: ClosureDiff, deploymentIds: readonly string[]): Promise<void> {
  if (deploymentIds.length === 0) return;
  const now = nowIso();
  const pair = pairOf(diff);
  await db
    .insertInto('closure_diffs')
    .values({ workspace_id: workspaceId, pair, body: JSON.stringify(diff), created_at: now })
    .onConflict((oc) => oc.columns(['workspace_id', 'pair']).doNothing())
    .execute();
  for (const part of chunks(deploymentIds)) {
    await db
      .insertInto('deployment_diffs')
      .values(part.map((deployment_id) => ({ deployment_id, workspace_id: workspaceId, pair, created_at: now })))
      .onConflict((oc) => oc.column('deployment_id').doNothing())
      .execute();
  }
}

/** Records the diff an agent computed for one of its deployments (false: not its deployment, nothing stored). */
export async function recordAgentDiff(db: Kysely<Database>, agentId: string, deploymentId: string, diff: ClosureDiff): Promise<boolean> {
  const row = await db.selectFrom('deployments').select('workspace_id').where('id', '=', deploymentId).where('agent_id', '=', agentId).executeTakeFirst();
  if (!row) return false;
  await recordDiff(db, row.workspace_id, { ...diff, source: 'agent' }, [deploymentId]);
  return true;
}

let storedDiffCheck: ReturnType<typeof TypeCompiler.Compile<typeof ClosureDiffSchema>> | undefined;

/** A stored diff's JSON as the API shows it (null: none, or a row that no longer reads as a diff). */
export function parseStoredDiff(body: string | null): ClosureDiff | null {
  if (body === null) return null;
  try {
    const parsed: unknown = JSON.parse(body);
    storedDiffCheck ??= TypeCompiler.Compile(ClosureDiffSchema);
    return storedDiffCheck.Check(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/** The agent's deployment before this one, and (for a Superseded one) the next, which replaced it. */
export async function neighbours(
  db: Kysely<Database>,
  row: { agent_id: string; index_no: number; status: string },
): Promise<Pick<DeploymentDetail, 'previous' | 'supersededBy'>> {
  const previous = await db
    .selectFrom('deployments')
    .select(['id', 'store_path', 'status'])
    .where('agent_id', '=', row.agent_id)
    .where('index_no', '<', row.index_no)
    .orderBy('index_no', 'desc')
    .limit(1)
    .executeTakeFirst();
  const next =
    row.status === 'Superseded'
      ? await db
          .selectFrom('deployments')
          .select('id')
          .where('agent_id', '=', row.agent_id)
          .where('index_no', '>', row.index_no)
          .orderBy('index_no')
          .limit(1)
          .executeTakeFirst()
      : undefined;
  return {
    previous: previous ? { id: previous.id, storePath: previous.store_path, status: previous.status } : null,
    supersededBy: next ? { id: next.id } : null,
  };
}
