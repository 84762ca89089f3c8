/**
 * `drover secret set NAME (--agent A… | --on SELECTOR) [--file F | --encrypted F]
 * [--path P] [--owner u:g] [--mode 0400] [--no-deploy]`: resolves the target
 * agents and their age recipients, encrypts here (secret-input.ts) and
 * uploads the ciphertext only; `drover secret list`; `drover secret rm NAME`.
 * Deployers and admins set and remove; any reader lists.
 */
import {
  AgentListSchema,
  DroverError,
  parseSelector,
  schemaDecoder,
  SecretListSchema,
  SecretRemoveResponseSchema,
  SecretSetResponseSchema,
  type Agent,
  type SecretRemoveResponse,
  type SecretSetRequest,
} from '@drover/protocol';
import { encryptTo, readEncrypted, readPlaintext } from '../secret-input.js';
import { info, out, printJson, table } from '../output.js';
import { readerClient, type ReaderFlags } from './reader.js';
import type { ApiClient } from '../client.js';

interface SetFlags extends ReaderFlags {
  agent?: string[];
  on?: string;
  file?: string;
  encrypted?: string;
  path?: string;
  owner?: string;
  mode?: string;
  deploy: boolean;
  json?: boolean;
}

function secretPath(name: string): string {
  return `/secrets/${encodeURIComponent(name)}`;
}

/** `--mode 0400` / `400` → 256. */
export function parseMode(text: string): number {
  if (!/^0?[0-7]{1,4}$/.test(text))
    throw new DroverError('DROVER_ERR_INVALID_SECRET', `--mode ${JSON.stringify(text)} is not an octal file mode such as 0400 or 0440`);
  return parseInt(text, 8);
}

/** `--owner user:group`, `user` or `:group` → its parts (null: not set). */
export function parseOwner(text: string): { owner: string | null; group: string | null } {
  const colon = text.indexOf(':');
  const owner = colon < 0 ? text : text.slice(0, colon);
  const group = colon < 0 ? '' : text.slice(colon + 1);
  if (owner === '' && group === '') throw new DroverError('DROVER_ERR_INVALID_SECRET', '--owner needs a user, user:group or :group');
  return { owner: owner === '' ? null : owner, group: group === '' ? null : group };
}

/** The target agents with their recipients; refuses unknown names, an empty selection and agents without a recipient. */
async function targetAgents(api: ApiClient, flags: SetFlags): Promise<Agent[]> {
  const names = flags.agent ?? [];
  if (names.length > 0 === (flags.on !== undefined)) {
    throw new DroverError('DROVER_ERR_INVALID_SECRET', 'say which agents receive the secret: --agent NAME (repeatable) or --on SELECTOR, not both');
  }
  let agents: Agent[];
  if (flags.on !== undefined) {
    parseSelector(flags.on); // a typo is reported with the syntax before any request
    agents = (await api.request('GET', `/agents?selector=${encodeURIComponent(flags.on)}`, undefined, schemaDecoder(AgentListSchema))).agents;
    if (agents.length === 0) throw new DroverError('DROVER_ERR_INVALID_SECRET', `no agent matches --on ${flags.on}; nothing was stored`);
  } else {
    const all = new Map((await api.request('GET', '/agents', undefined, schemaDecoder(AgentListSchema))).agents.map((a) => [a.name, a]));
    const unknown = names.filter((n) => !all.has(n));
    if (unknown.length > 0) throw new DroverError('DROVER_ERR_AGENT_NOT_FOUND', `no agent named ${unknown.join(', ')} in this workspace; nothing was stored`);
    agents = [...new Set(names)].map((n) => all.get(n)).filter((a): a is Agent => a !== undefined);
  }
  const without = agents.filter((a) => a.recipient === null);
  if (without.length > 0) {
    throw new DroverError(
      'DROVER_ERR_NO_RECIPIENT',
      `agent${without.length > 1 ? 's' : ''} ${without.map((a) => a.name).join(', ')} ha${without.length > 1 ? 've' : 's'} no age recipient, so nothing can be encrypted to ${without.length > 1 ? 'them' : 'it'}: upgrade and start the agent once (it creates its identity and tells the server its recipient); nothing was stored`,
    );
  }
  return agents;
}

function reportDelivery(r: SecretRemoveResponse): void {
  for (const d of r.deployments) info(`  ${d.agent}: secrets-only deployment #${d.index} ${d.url}`);
  if (r.withNextDeployment.length > 0) info(`  with their next deployment: ${r.withNextDeployment.join(', ')}`);
}

export async function secretSet(name: string, flags: SetFlags): Promise<void> {
  if (flags.file !== undefined && flags.encrypted !== undefined)
    throw new DroverError('DROVER_ERR_INVALID_SECRET', '--file and --encrypted exclude each other');
  const mode = flags.mode === undefined ? undefined : parseMode(flags.mode);
  const owner = flags.owner === undefined ? undefined : parseOwner(flags.owner);
  const api = readerClient(flags);
  const agents = await targetAgents(api, flags);
  const targets = agents.map((a) => ({ agent: a.name, recipient: a.recipient ?? '' }));
  let ciphertext: Uint8Array;
  if (flags.encrypted !== undefined) ciphertext = readEncrypted(flags.encrypted);
  else {
    if (flags.file === undefined && process.stdin.isTTY) info('reading the secret from stdin (end with Ctrl-D)…');
    ciphertext = await encryptTo(readPlaintext(flags.file), targets);
  }
  const body: SecretSetRequest = {
    targets,
    ciphertext: Buffer.from(ciphertext).toString('base64'),
    ...(flags.path !== undefined ? { path: flags.path } : {}),
    ...(owner ?? {}),
    ...(mode !== undefined ? { mode } : {}),
    deploy: flags.deploy,
  };
  const r = await api.request('PUT', secretPath(name), body, schemaDecoder(SecretSetResponseSchema));
  if (flags.json) {
    printJson(r);
    return;
  }
  const s = r.secret;
  info(`secret ${s.name} version ${s.version} set for ${s.targets.map((t) => t.agent).join(', ')} (${s.path}, mode ${modeText(s.mode)})`);
  reportDelivery(r);
}

function modeText(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

export async function secretList(flags: ReaderFlags & { json?: boolean }): Promise<void> {
  const { secrets } = await readerClient(flags).request('GET', '/secrets', undefined, schemaDecoder(SecretListSchema));
  if (flags.json) {
    printJson(secrets);
    return;
  }
  if (secrets.length === 0) {
    out('no secrets yet: set one with `drover secret set NAME --agent AGENT --file FILE`');
    return;
  }
  out(
    table([
      ['NAME', 'VERSION', 'TARGETS', 'PATH', 'OWNER', 'MODE', 'UPDATED'],
      ...secrets.map((s) => [
        s.name,
        String(s.version),
        s.targets.map((t) => (t.recipientChanged ? `${t.agent}(recipient changed)` : t.agent)).join(','),
        s.path,
        `${s.owner ?? '-'}:${s.group ?? '-'}`,
        modeText(s.mode),
        `${s.updatedAt} ${s.updatedBy?.label ?? ''}`.trim(),
      ]),
    ]),
  );
  for (const s of secrets) {
    const changed = s.targets.filter((t) => t.recipientChanged).map((t) => t.agent);
    if (changed.length > 0) info(`${s.name}: the recipient of ${changed.join(', ')} changed since it was set; they cannot decrypt it: set it again`);
  }
}

export async function secretRemove(name: string, flags: ReaderFlags & { deploy: boolean; json?: boolean }): Promise<void> {
  const query = flags.deploy ? '' : '?deploy=false';
  const r = await readerClient(flags).request('DELETE', `${secretPath(name)}${query}`, undefined, schemaDecoder(SecretRemoveResponseSchema));
  if (flags.json) {
    printJson(r);
    return;
  }
  info(`secret ${name} removed`);
  reportDelivery(r);
}
