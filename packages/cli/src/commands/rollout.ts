/**
 * `drover rollout pause|resume|abort ACTIVATION`: one action on a staged
 * rollout (POST …/activations/ID/ACTION), then its state and one line per
 * wave — or the whole activation view with --json.
 */
import { ActivationViewSchema, schemaDecoder, type ActivationView } from '@drover/protocol';
import { out, printJson } from '../output.js';
import { readerClient, type ReaderFlags } from './reader.js';

const decodeView = schemaDecoder(ActivationViewSchema);

/** "rollout ID: paused (paused by alice)" and "  wave 1 (web-1): succeeded, 1 agent". */
function viewLines(view: ActivationView): string[] {
  const r = view.activation.rollout;
  if (!r) return [`activation ${view.activation.id} has no staged rollout`];
  const lines = [`rollout ${view.activation.id}: ${r.state}${r.reason ? ` (${r.reason})` : ''}`];
  for (const w of r.waves) {
    const counts = Object.entries(w.counts as Record<string, number>)
      .filter(([, n]) => n > 0)
      .map(([status, n]) => `${n} ${status}`)
      .join(', ');
    lines.push(`  wave ${w.index + 1} (${w.label}): ${w.state}, ${w.agents} agent${w.agents === 1 ? '' : 's'}${counts ? ` — ${counts}` : ''}`);
  }
  lines.push(`  ${view.activation.url}`);
  return lines;
}

export async function rolloutCommand(action: 'pause' | 'resume' | 'abort', id: string, flags: ReaderFlags & { json?: boolean }): Promise<void> {
  const api = readerClient(flags);
  const view = await api.request('POST', `/activations/${encodeURIComponent(id)}/${action}`, undefined, decodeView);
  if (flags.json) printJson(view);
  else for (const line of viewLines(view)) out(line);
}
