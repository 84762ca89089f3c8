/**
 * The labels block of an agent's page: the effective labels (what selectors
 * see) with the admin-set ones marked, what the agent itself declares, and
 * for admins a field taking `k=v` to set and `k-` to remove (the same words
 * as `drover agents label NAME …`), sent as one PATCH.
 */
import { useState } from 'preact/hooks';
import { api, wsPath } from '../api/client.js';
import type { Agent } from '../api/protocol.js';
import { useAction } from '../hooks/use-action.js';
import { useWorkspace } from '../workspace.js';
import { ErrorBox } from './error-box.js';
import { LabelChips } from './label-chips.js';

/** `role=web region-` → {role: "web", region: null}; the server checks the syntax. */
function changesOf(text: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const word of text.split(/[\s,]+/).filter((w) => w !== '')) {
    const eq = word.indexOf('=');
    if (eq > 0) out[word.slice(0, eq)] = word.slice(eq + 1);
    else out[word.endsWith('-') ? word.slice(0, -1) : word] = null;
  }
  return out;
}

export function AgentLabels({ agent, onChanged }: { agent: Agent; onChanged: (agent: Agent) => void }) {
  const ws = useWorkspace();
  const [text, setText] = useState('');
  const save = useAction(async () => {
    const changed = await api.patch<Agent>(wsPath(ws.name, `/agents/${encodeURIComponent(agent.name)}/labels`), { labels: changesOf(text) });
    setText('');
    onChanged(changed);
  });
  const declared = Object.entries(agent.agentLabels);
  return (
    <section class="agent-labels" aria-label="Labels">
      <h2>Labels</h2>
      <p>
        <LabelChips labels={agent.labels} admin={agent.adminLabels} />
      </p>
      <p class="help">
        {declared.length === 0 ? 'The agent declares no labels of its own.' : `The agent declares ${declared.map(([k, v]) => `${k}=${v}`).join(', ')}.`} Admin
        changes override them and stay when it reconnects.
      </p>
      {ws.canAdmin ? (
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            void save.run();
          }}
        >
          <label class="field grow">
            <span>Change labels</span>
            <input name="labels" placeholder="role=web region-" value={text} onInput={(e) => setText(e.currentTarget.value)} aria-describedby="labels-help" />
          </label>
          <button type="submit" class="button" disabled={save.running || text.trim() === ''}>
            Apply
          </button>
        </form>
      ) : null}
      {ws.canAdmin ? (
        <p id="labels-help" class="help">
          <code>k=v</code> sets a label, <code>k-</code> removes it.
        </p>
      ) : null}
      <ErrorBox error={save.error} title="Could not change the labels" />
    </section>
  );
}
