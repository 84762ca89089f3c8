/**
 * The secrets tables: a secret's row (metadata and its age ciphertext) and
 * its targets (the agents it is for, each with the recipient it was
 * encrypted to). The rules — names, limits, who may — are the service's
 * (service.ts); this file only reads and writes. Ciphertext leaves this file
 * only in deploy orders (`secretOrdersFor`), never in an API view.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Actor, SecretOrder } from '@drover/protocol';
import { chunks } from '../db/chunks.js';
import type { Database } from '../db/schema.js';
import { nowIso } from '../db/time.js';
import { storedActor } from '../deployments/repository.js';
import type { SecretsTable } from './tables.js';

/** A secret as the API shows it, before mapping: its row without the ciphertext, and its targets. */
export interface SecretView {
  readonly row: Omit<SecretsTable, 'ciphertext'>;
  /** Bytes of the age file (the stored base64 decoded). */
  readonly ciphertextBytes: number;
  readonly targets: readonly SecretTargetView[];
}

interface SecretTargetView {
  readonly agentId: string;
  readonly agentName: string;
  /** The recipient it was encrypted to, and the agent's recipient now. */
  readonly recipient: string;
  readonly currentRecipient: string | null;
}

const metadataColumns = [
  'secrets.id',
  'secrets.workspace_id',
  'secrets.name',
  'secrets.path',
  'secrets.owner',
  'secrets.group_name',
  'secrets.mode',
  'secrets.version',
  'secrets.created_at',
  'secrets.created_by',
  'secrets.created_by_label',
  'secrets.updated_at',
  'secrets.updated_by',
  'secrets.updated_by_label',
] as const;

/** The workspace's secrets (or the one named), by name, with their targets. */
export async function listSecrets(db: Kysely<Database>, workspaceId: string, name?: string): Promise<SecretView[]> {
  let query = db
    .selectFrom('secrets')
    .select(metadataColumns)
    .select(sql<number | string>`length(secrets.ciphertext)`.as('ciphertext_chars'))
    // The last two base64 characters tell the padding (substr from the length: the same on both databases).
    .select(sql<string>`substr(secrets.ciphertext, length(secrets.ciphertext) - 1, 2)`.as('ciphertext_tail'))
    .where('secrets.workspace_id', '=', workspaceId)
    .orderBy('secrets.name');
  if (name !== undefined) query = query.where('secrets.name', '=', name);
  const rows = await query.execute();
  const targets = new Map<string, SecretTargetView[]>();
  for (const part of chunks(rows.map((r) => r.id))) {
    const found = await db
      .selectFrom('secret_targets')
      .innerJoin('agents', 'agents.id', 'secret_targets.agent_id')
      .select(['secret_targets.secret_id', 'secret_targets.agent_id', 'secret_targets.recipient', 'agents.name', 'agents.recipient as current_recipient'])
      .where('secret_targets.secret_id', 'in', part)
      .orderBy('agents.name')
      .execute();
    for (const t of found) {
      const list = targets.get(t.secret_id) ?? [];
      list.push({ agentId: t.agent_id, agentName: t.name, recipient: t.recipient, currentRecipient: t.current_recipient });
      targets.set(t.secret_id, list);
    }
  }
  return rows.map(({ ciphertext_chars, ciphertext_tail, ...row }) => ({
    row,
    ciphertextBytes: (Number(ciphertext_chars) / 4) * 3 - (ciphertext_tail.match(/=/g)?.length ?? 0),
    targets: targets.get(row.id) ?? [],
  }));
}

/** One stored secret an agent already has, for the per-agent limits: its name, path and how many bytes it adds to a deploy frame. */
export interface AgentSecretUse {
  readonly agentId: string;
  readonly name: string;
  readonly path: string;
  readonly frameBytes: number;
}

/** What each of these agents already receives, leaving out the secret named `except` (the one being set). */
export async function agentSecretUses(db: Kysely<Database>, workspaceId: string, agentIds: readonly string[], except: string): Promise<AgentSecretUse[]> {
  const out: AgentSecretUse[] = [];
  for (const part of chunks(agentIds)) {
    const rows = await db
      .selectFrom('secret_targets')
      .innerJoin('secrets', 'secrets.id', 'secret_targets.secret_id')
      .select(['secret_targets.agent_id', 'secrets.name', 'secrets.path'])
      .select(sql<number | string>`length(secrets.ciphertext)`.as('ciphertext_chars'))
      .where('secrets.workspace_id', '=', workspaceId)
      .where('secrets.name', '!=', except)
      .where('secret_targets.agent_id', 'in', part)
      .execute();
    for (const r of rows)
      out.push({ agentId: r.agent_id, name: r.name, path: r.path, frameBytes: secretFrameBytes(r.name, r.path, Number(r.ciphertext_chars)) });
  }
  return out;
}

/** Bytes one secret adds to a deploy frame: its JSON fields (ciphertext, path, name) and a fixed allowance for the rest of the entry. */
export function secretFrameBytes(name: string, path: string, ciphertextChars: number): number {
  return ciphertextChars + Buffer.byteLength(JSON.stringify(path)) + name.length + 160;
}

export interface SecretWrite {
  readonly workspaceId: string;
  readonly name: string;
  readonly path: string;
  readonly owner: string | null;
  readonly group: string | null;
  readonly mode: number;
  readonly ciphertext: string;
  readonly targets: readonly { readonly agentId: string; readonly recipient: string }[];
  readonly by: Actor;
}

/**
 * Creates the secret or replaces it (version + 1) with its targets, in one
 * transaction. Returns the agents it was for before (empty when new).
 */
export async function storeSecret(db: Kysely<Database>, input: SecretWrite): Promise<{ previousAgentIds: string[] }> {
  const now = nowIso();
  const by = storedActor(input.by);
  return db.transaction().execute(async (tx) => {
    const fields = {
      path: input.path,
      owner: input.owner,
      group_name: input.group,
      mode: input.mode,
      ciphertext: input.ciphertext,
      updated_at: now,
      updated_by: by,
      updated_by_label: input.by.label,
    };
    const row = await tx
      .insertInto('secrets')
      .values({
        id: randomUUID(),
        workspace_id: input.workspaceId,
        name: input.name,
        version: 1,
        created_at: now,
        created_by: by,
        created_by_label: input.by.label,
        ...fields,
      })
      .onConflict((oc) => oc.columns(['workspace_id', 'name']).doUpdateSet((eb) => ({ ...fields, version: eb('secrets.version', '+', 1) })))
      .returning('id')
      .executeTakeFirstOrThrow();
    const previous = await tx.deleteFrom('secret_targets').where('secret_id', '=', row.id).returning('agent_id').execute();
    for (const part of chunks(input.targets)) {
      await tx
        .insertInto('secret_targets')
        .values(part.map((t) => ({ secret_id: row.id, agent_id: t.agentId, recipient: t.recipient })))
        .execute();
    }
    return { previousAgentIds: previous.map((p) => p.agent_id) };
  });
}

/** Deletes the secret; returns the agents it was for, or null when there was none of that name. */
export async function deleteSecret(db: Kysely<Database>, workspaceId: string, name: string): Promise<string[] | null> {
  return db.transaction().execute(async (tx) => {
    const row = await tx.selectFrom('secrets').select('id').where('workspace_id', '=', workspaceId).where('name', '=', name).executeTakeFirst();
    if (!row) return null;
    const targets = await tx.deleteFrom('secret_targets').where('secret_id', '=', row.id).returning('agent_id').execute();
    await tx.deleteFrom('secrets').where('id', '=', row.id).execute();
    return targets.map((t) => t.agent_id);
  });
}

/**
 * The complete secret set of each of these agents, for their deploy orders
 * (sorted by name; an agent with none gets an empty list). One cheap query
 * first: workspaces without any secret cost nothing more.
 */
export async function secretOrdersFor(
  db: Kysely<Database>,
  agents: readonly { readonly agentId: string; readonly workspaceId: string }[],
): Promise<Map<string, SecretOrder[]>> {
  const out = new Map<string, SecretOrder[]>();
  const workspaces = [...new Set(agents.map((a) => a.workspaceId))];
  if (workspaces.length === 0) return out;
  const any = await db.selectFrom('secrets').select('id').where('workspace_id', 'in', workspaces).limit(1).executeTakeFirst();
  if (!any) return out;
  for (const part of chunks(agents.map((a) => a.agentId))) {
    const rows = await db
      .selectFrom('secret_targets')
      .innerJoin('secrets', 'secrets.id', 'secret_targets.secret_id')
      .select([
        'secret_targets.agent_id',
        'secrets.name',
        'secrets.path',
        'secrets.owner',
        'secrets.group_name',
        'secrets.mode',
        'secrets.version',
        'secrets.ciphertext',
      ])
      .where('secret_targets.agent_id', 'in', part)
      .orderBy('secrets.name')
      .execute();
    for (const r of rows) {
      const list = out.get(r.agent_id) ?? [];
      list.push({ name: r.name, path: r.path, owner: r.owner, group: r.group_name, mode: r.mode, version: r.version, ciphertext: r.ciphertext });
      out.set(r.agent_id, list);
    }
  }
  return out;
}
