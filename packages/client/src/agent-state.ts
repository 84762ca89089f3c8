/**
 * An agent's state in words, the same in `drover agents` and the web UI:
 * online, "cannot deploy" (connected, but its self-checks failed: the
 * deployments sent to it fail at once), or offline; and the notes that
 * explain it — each problem, and a name conflict with another host.
 */
import type { Agent } from '@drover/protocol/light';

export type AgentPresence = 'online' | 'cannot deploy' | 'offline';

export function agentPresence(agent: Pick<Agent, 'online' | 'problems'>): AgentPresence {
  if (!agent.online) return 'offline';
  return agent.problems.length > 0 ? 'cannot deploy' : 'online';
}

/** "cannot deploy: REASON" per problem (while online), then the name conflict if one was seen lately. */
export function agentNotes(agent: Pick<Agent, 'online' | 'problems' | 'conflict'>): string[] {
  const notes = agent.online ? agent.problems.map((p) => `cannot deploy: ${p}`) : [];
  if (agent.conflict) {
    const [replaced, current] = agent.conflict.hostnames;
    notes.push(
      `name conflict: at ${agent.conflict.at} a connection from host ${current ?? '?'} replaced the one from host ${replaced ?? '?'}; two agents use this name — stop one or rename it`,
    );
  }
  return notes;
}
