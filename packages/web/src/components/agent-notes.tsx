/** Why an agent cannot deploy, and a name conflict with another host, as warning lines (agentNotes of @drover/client). */
import { agentNotes } from '@drover/client';
import type { Agent } from '../api/protocol.js';

export function AgentNotes({ agent, compact = false }: { agent: Pick<Agent, 'online' | 'problems' | 'conflict'>; compact?: boolean }) {
  const notes = agentNotes(agent);
  if (notes.length === 0) return null;
  return (
    <ul class={compact ? 'agent-notes compact' : 'agent-notes reason reason-failed'} data-testid="agent-notes">
      {notes.map((n) => (
        <li key={n}>{n}</li>
      ))}
    </ul>
  );
}
