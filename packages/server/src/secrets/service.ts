/**
 * The secrets rules. A secret is set with ciphertext the client encrypted
 * with age to each target agent's recipient; the server checks what it can
 * without a key — the name, path, owner, group and mode, that the
 * ciphertext is an age file with enough X25519 stanzas, that every target
 * exists and has exactly the recipient the client encrypted to — and the
 * per-agent limits that keep a deploy frame under MAX_FRAME_BYTES (count,
 * bytes, one file per path). Every problem of a request is reported at once
 * (`details`) and nothing is stored. A change is delivered with secrets-only
 * deployments (deploy.ts). Views never carry ciphertext, whoever asks.
 */
import {
  AGE_RECIPIENT_PATTERN,
  DEFAULT_SECRET_MODE,
  DroverError,
  MAX_AGENT_SECRETS_BYTES,
  MAX_SECRET_CIPHERTEXT_CHARS,
  MAX_SECRETS_PER_AGENT,
  SECRET_NAME_PATTERN,
  SECRET_OWNER_PATTERN,
  SECRET_PATH_PATTERN,
  SECRETS_DIR,
  type ErrorCode,
  type ErrorDetail,
  type Secret,
  type SecretRemoveResponse,
  type SecretSetRequest,
  type SecretSetResponse,
} from '@drover/protocol';
import { findAgentsByName } from '../agents/repository.js';
import type { Access } from '../auth/access.js';
import type { ServerContext } from '../context.js';
import { actorFrom } from '../deployments/repository.js';
import { checkAgeFile } from './age-file.js';
import { deliverSecrets } from './deploy.js';
import { agentSecretUses, deleteSecret, listSecrets, secretFrameBytes, storeSecret, type SecretView } from './repository.js';

const NAME = new RegExp(SECRET_NAME_PATTERN);
const PATH = new RegExp(SECRET_PATH_PATTERN);
const OWNER = new RegExp(SECRET_OWNER_PATTERN);
const RECIPIENT = new RegExp(AGE_RECIPIENT_PATTERN);

function toSecretApi(view: SecretView): Secret {
  const r = view.row;
  return {
    name: r.name,
    path: r.path,
    owner: r.owner,
    group: r.group_name,
    mode: r.mode,
    version: r.version,
    targets: view.targets.map((t) => ({ agent: t.agentName, recipientChanged: t.currentRecipient !== t.recipient })),
    size: view.ciphertextBytes,
    createdAt: r.created_at,
    createdBy: r.created_by ? actorFrom(r.created_by, r.created_by_label) : null,
    updatedAt: r.updated_at,
    updatedBy: r.updated_by ? actorFrom(r.updated_by, r.updated_by_label) : null,
  };
}

function notFound(access: Access, name: string): DroverError {
  return new DroverError('DROVER_ERR_SECRET_NOT_FOUND', `secret ${JSON.stringify(name)} does not exist in workspace ${access.workspaceName}`);
}

/** Every problem of a request, each with its code; thrown as one error with the first problem's code. */
class Problems {
  private readonly list: { code: ErrorCode; detail: ErrorDetail }[] = [];

  add(code: ErrorCode, path: string, message: string): void {
    this.list.push({ code, detail: { path, code, message } });
  }

  throwAny(): void {
    const first = this.list[0];
    if (!first) return;
    const message = this.list.length === 1 ? first.detail.message : `${first.detail.message} (and ${this.list.length - 1} more problems)`;
    throw new DroverError(
      first.code,
      `nothing was stored: ${message}`,
      this.list.map((p) => p.detail),
    );
  }
}

/** The workspace's secrets, by name: metadata and targets only. */
export async function listSecretsOf(ctx: ServerContext, access: Access): Promise<{ secrets: Secret[] }> {
  return { secrets: (await listSecrets(ctx.db, access.workspaceId)).map(toSecretApi) };
}

/** One secret's metadata and targets. */
export async function getSecret(ctx: ServerContext, access: Access, name: string): Promise<Secret> {
  const [view] = await listSecrets(ctx.db, access.workspaceId, name);
  if (!view) throw notFound(access, name);
  return toSecretApi(view);
}

/** The fields of a request as they will be stored, with every field problem recorded. */
function checkedFields(name: string, body: SecretSetRequest, problems: Problems) {
  if (!NAME.test(name))
    problems.add(
      'DROVER_ERR_INVALID_SECRET',
      '/name',
      `secret name ${JSON.stringify(name)} must be 1-64 letters, digits, ".", "_" or "-", not starting with "."`,
    );
  const path = body.path ?? `${SECRETS_DIR}/${name}`;
  if (!PATH.test(path))
    problems.add('DROVER_ERR_INVALID_SECRET', '/path', `path ${JSON.stringify(path)} must be absolute, without "." or ".." segments or newlines`);
  const owner = body.owner ?? null;
  const group = body.group ?? null;
  for (const [field, value] of [
    ['owner', owner],
    ['group', group],
  ] as const) {
    if (value !== null && !OWNER.test(value))
      problems.add('DROVER_ERR_INVALID_SECRET', `/${field}`, `${field} ${JSON.stringify(value)} must be a user/group name or a numeric id`);
  }
  const mode = body.mode ?? DEFAULT_SECRET_MODE;
  if (body.ciphertext.length > MAX_SECRET_CIPHERTEXT_CHARS) {
    const many = body.targets.length > 1000 ? `; encrypted to ${body.targets.length} agents, each adding ~100 bytes: split them over several secrets` : '';
    problems.add(
      'DROVER_ERR_SECRET_LIMIT',
      '/ciphertext',
      `ciphertext is ${body.ciphertext.length} base64 characters, over the limit of ${MAX_SECRET_CIPHERTEXT_CHARS}${many}`,
    );
  } else {
    const age = checkAgeFile(body.ciphertext);
    if (!age.ok) problems.add('DROVER_ERR_INVALID_SECRET', '/ciphertext', age.problem);
    else {
      const recipients = new Set(body.targets.map((t) => t.recipient)).size;
      if (age.x25519Stanzas < recipients) {
        problems.add(
          'DROVER_ERR_INVALID_SECRET',
          '/ciphertext',
          `ciphertext is encrypted to ${age.x25519Stanzas} X25519 recipient(s), fewer than the ${recipients} recipient(s) of its targets`,
        );
      }
    }
  }
  return { path, owner, group, mode };
}

/** The target agents, checked: each exists once, has a recipient, and it is the one the client encrypted to. */
async function checkedTargets(ctx: ServerContext, access: Access, body: SecretSetRequest, problems: Problems) {
  const names = body.targets.map((t) => t.agent);
  const agents = new Map((await findAgentsByName(ctx.db, access.workspaceId, names)).map((a) => [a.name, a]));
  const seen = new Set<string>();
  const targets: { agentId: string; agentName: string; recipient: string }[] = [];
  body.targets.forEach((t, i) => {
    const at = `/targets/${i}`;
    if (seen.has(t.agent)) return problems.add('DROVER_ERR_INVALID_SECRET', at, `agent ${t.agent} is named twice`);
    seen.add(t.agent);
    const agent = agents.get(t.agent);
    if (!agent) return problems.add('DROVER_ERR_AGENT_NOT_FOUND', at, `agent ${JSON.stringify(t.agent)} does not exist in workspace ${access.workspaceName}`);
    if (agent.recipient === null) {
      return problems.add(
        'DROVER_ERR_NO_RECIPIENT',
        at,
        `agent ${agent.name} has no age recipient (it never connected with an agent that makes one); upgrade it and start it once`,
      );
    }
    if (!RECIPIENT.test(t.recipient) || t.recipient !== agent.recipient) {
      return problems.add(
        'DROVER_ERR_RECIPIENT_CHANGED',
        at,
        `agent ${agent.name}'s recipient is ${agent.recipient}, not ${t.recipient} (the one encrypted to); set the secret again`,
      );
    }
    targets.push({ agentId: agent.id, agentName: agent.name, recipient: agent.recipient });
  });
  return targets;
}

/** Each target agent's set stays within the frame: at most MAX_SECRETS_PER_AGENT, MAX_AGENT_SECRETS_BYTES, one secret per path. */
async function checkAgentLimits(
  ctx: ServerContext,
  access: Access,
  secret: { name: string; path: string; ciphertextChars: number },
  targets: readonly { agentId: string; agentName: string }[],
  problems: Problems,
): Promise<void> {
  const uses = await agentSecretUses(
    ctx.db,
    access.workspaceId,
    targets.map((t) => t.agentId),
    secret.name,
  );
  const own = secretFrameBytes(secret.name, secret.path, secret.ciphertextChars);
  for (const t of targets) {
    const mine = uses.filter((u) => u.agentId === t.agentId);
    const clash = mine.find((u) => u.path === secret.path);
    if (clash) problems.add('DROVER_ERR_SECRET_PATH_CONFLICT', '/path', `agent ${t.agentName} already receives secret ${clash.name} at ${secret.path}`);
    if (mine.length + 1 > MAX_SECRETS_PER_AGENT) {
      problems.add(
        'DROVER_ERR_SECRET_LIMIT',
        '/targets',
        `agent ${t.agentName} would receive ${mine.length + 1} secrets, over the limit of ${MAX_SECRETS_PER_AGENT}`,
      );
    }
    const bytes = mine.reduce((sum, u) => sum + u.frameBytes, own);
    if (bytes > MAX_AGENT_SECRETS_BYTES) {
      problems.add(
        'DROVER_ERR_SECRET_LIMIT',
        '/targets',
        `agent ${t.agentName}'s secrets would take ${bytes} bytes of its deploy frame, over the limit of ${MAX_AGENT_SECRETS_BYTES}`,
      );
    }
  }
}

/** Creates or replaces a secret, then delivers the change to the agents it was and is for. */
export async function setSecret(ctx: ServerContext, access: Access, name: string, body: SecretSetRequest): Promise<SecretSetResponse> {
  const problems = new Problems();
  const fields = checkedFields(name, body, problems);
  const targets = await checkedTargets(ctx, access, body, problems);
  problems.throwAny();
  await checkAgentLimits(ctx, access, { name, path: fields.path, ciphertextChars: body.ciphertext.length }, targets, problems);
  problems.throwAny();
  const { previousAgentIds } = await storeSecret(ctx.db, {
    workspaceId: access.workspaceId,
    name,
    ...fields,
    ciphertext: body.ciphertext,
    targets,
    by: access.actor,
  });
  ctx.log.info({ workspace: access.workspaceName, secret: name, targets: targets.length, by: `${access.actor.kind}:${access.actor.id}` }, 'secret set');
  const delivery = await deliverSecrets(ctx, access, [...previousAgentIds, ...targets.map((t) => t.agentId)], body.deploy ?? true);
  return { secret: await getSecret(ctx, access, name), ...delivery };
}

/** Removes a secret; its file is deleted from each agent by the secrets-only deployment (or their next one). */
export async function removeSecret(ctx: ServerContext, access: Access, name: string, deploy: boolean): Promise<SecretRemoveResponse> {
  const agentIds = await deleteSecret(ctx.db, access.workspaceId, name);
  if (agentIds === null) throw notFound(access, name);
  ctx.log.info({ workspace: access.workspaceName, secret: name, by: `${access.actor.kind}:${access.actor.id}` }, 'secret removed');
  return deliverSecrets(ctx, access, agentIds, deploy);
}
