/**
 * `drover agents [--selector S] [--status X]`: the workspace's agents as a
 * table or JSON, filtered on the server; `drover agents label NAME k=v k-`:
 * an admin sets or removes labels (over what the agent declares);
 * `drover agents remove NAME`: decommission an agent.
 */
import { AgentListSchema, AgentSchema, parseLabelChanges, parseSelector, schemaDecoder, type Labels } from '@drover/protocol';
import { agentNotes, agentPresence } from '@drover/client';
import { info, out, printJson, table } from '../output.js';
import { adminClient, readerClient, type ReaderFlags } from './reader.js';

function labelsText(labels: Labels): string {
  const text = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return text === '' ? '-' : text;
}

export async function agentsCommand(flags: ReaderFlags & { json?: boolean; selector?: string; status?: string }): Promise<void> {
  const api = readerClient(flags);
  const query = new URLSearchParams();
  if (flags.selector !== undefined) {
    parseSelector(flags.selector); // a typo is reported with the syntax before any request
    query.set('selector', flags.selector);
  }
  if (flags.status) query.set('status', flags.status);
  const { agents } = await api.request('GET', `/agents?${query.toString()}`, undefined, schemaDecoder(AgentListSchema));
  if (flags.json) {
    printJson(agents);
    return;
  }
  if (agents.length === 0) {
    out(flags.selector || flags.status ? 'no agents match' : 'no agents yet: start one with `drover agent NAME --server URL` and an agent token');
    return;
  }
  out(
    table([
      ['NAME', 'STATUS', 'LAST SEEN', 'VERSION', 'LAST DEPLOYMENT', 'LABELS', 'CURRENT'],
      ...agents.map((a) => [
        a.name,
        agentPresence(a),
        a.lastSeenAt ?? '-',
        a.version ?? '-',
        a.lastDeployment ? `#${a.lastDeployment.index} ${a.lastDeployment.status}` : '-',
        labelsText(a.labels),
        a.currentStorePath ?? '-',
      ]),
    ]),
  );
  for (const a of agents) for (const note of agentNotes(a)) out(`${a.name}: ${note}`);
}

export async function agentsLabelCommand(name: string, changes: string[], flags: ReaderFlags & { json?: boolean }): Promise<void> {
  const labels = parseLabelChanges(changes);
  const api = adminClient(flags);
  const agent = await api.request('PATCH', `/agents/${encodeURIComponent(name)}/labels`, { labels }, schemaDecoder(AgentSchema));
  if (flags.json) {
    printJson(agent);
    return;
  }
  info(`agent ${agent.name}: labels ${labelsText(agent.labels)}`);
}

export async function agentsRemoveCommand(name: string, flags: ReaderFlags): Promise<void> {
  const api = adminClient(flags);
  await api.request('DELETE', `/agents/${encodeURIComponent(name)}`, undefined);
  info(`agent ${name} decommissioned: its bound tokens are revoked, it left the lists; its deployments stay readable`);
}
