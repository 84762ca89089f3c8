/** `drover deployments` (filtered by part of the agent name or store path): what the API shows, as a table or JSON; `drover deployments end`: an operator ends a stuck one. */
import { DeploymentListSchema, DeploymentSchema, formatDuration, schemaDecoder } from '@drover/protocol';
import { info, out, printJson, table } from '../output.js';
import { readerClient, type ReaderFlags } from './reader.js';

export async function deploymentsCommand(
  flags: ReaderFlags & { json?: boolean; agent?: string; path?: string; status?: string; limit?: string },
): Promise<void> {
  const api = readerClient(flags);
  const query = new URLSearchParams();
  if (flags.agent) query.set('agentContains', flags.agent);
  if (flags.path) query.set('path', flags.path);
  if (flags.status) query.set('status', flags.status);
  if (flags.limit) query.set('limit', flags.limit);
  const { deployments } = await api.request('GET', `/deployments?${query.toString()}`, undefined, schemaDecoder(DeploymentListSchema));
  if (flags.json) {
    printJson(deployments);
    return;
  }
  if (deployments.length === 0) {
    out(flags.agent || flags.path || flags.status ? 'no deployment matches these filters' : 'no deployments yet: run `drover activate deploy.json`');
    return;
  }
  out(
    table([
      ['AGENT', 'INDEX', 'STATUS', 'CREATED', 'BY', 'DURATION', 'STORE PATH', 'ID'],
      ...deployments.map((d) => [
        d.agent,
        `#${d.index}`,
        d.dry ? `${d.status} (dry run)` : d.status,
        d.createdAt,
        d.createdBy ? `${d.createdBy.kind === 'token' ? 'token ' : ''}${d.createdBy.label}` : '-',
        d.startedAt && d.finishedAt ? formatDuration(Date.parse(d.finishedAt) - Date.parse(d.startedAt)) : '-',
        d.storePath,
        d.id,
      ]),
    ]),
  );
}

/**
 * `drover deployments end ID --reason …`: ends an InProgress deployment whose
 * agent never reported (it becomes Failed with who and why; the agent's own
 * report, if it comes later, replaces that).
 */
export async function deploymentEndCommand(id: string, flags: ReaderFlags & { reason: string; json?: boolean }): Promise<void> {
  const api = readerClient(flags);
  const ended = await api.request('POST', `/deployments/${encodeURIComponent(id)}/end`, { reason: flags.reason }, schemaDecoder(DeploymentSchema));
  if (flags.json) {
    printJson(ended);
    return;
  }
  info(`deployment ${ended.id} (${ended.agent} #${ended.index}) is now ${ended.status}: ${ended.reason ?? ''}`);
}
