/**
 * Which wave each agent of a staged rollout belongs to. The agents are
 * taken in name order; a wave by names takes those names, by selector the
 * agents whose labels match (agents/labels.ts), by percent or count the
 * first ⌈P% of all⌉ or N agents — in each case only agents no earlier wave
 * took, so percentages are cumulative. Agents left in no wave are refused
 * with every one named.
 */
import { DroverError, parseSelector, type RolloutWave } from '@drover/protocol';
import { agentMatches } from '../agents/labels.js';
import type { AgentRow } from '../db/schema.js';

type WaveAgent = Pick<AgentRow, 'name' | 'labels'>;

function takes(wave: RolloutWave, sorted: readonly WaveAgent[]): (agent: WaveAgent, position: number) => boolean {
  if ('agents' in wave) {
    const names = new Set(wave.agents);
    return (a) => names.has(a.name);
  }
  if ('selector' in wave) {
    const selector = parseSelector(wave.selector);
    return (a) => agentMatches(a, selector);
  }
  const upTo = 'percent' in wave ? Math.ceil((wave.percent * sorted.length) / 100) : wave.count;
  return (_a, position) => position < upTo;
}

/** Each agent's wave index (by name), the agents sorted by name. Throws DROVER_ERR_INVALID_DEPLOY_SPEC when an agent is in no wave. */
export function assignWaves(agents: readonly WaveAgent[], waves: readonly RolloutWave[]): Map<string, number> {
  const sorted = [...agents].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const waveOf = new Map<string, number>();
  waves.forEach((wave, index) => {
    const take = takes(wave, sorted);
    sorted.forEach((agent, position) => {
      if (!waveOf.has(agent.name) && take(agent, position)) waveOf.set(agent.name, index);
    });
  });
  const left = sorted.filter((a) => !waveOf.has(a.name)).map((a) => a.name);
  if (left.length > 0) {
    const named = left.length > 10 ? `${left.slice(0, 10).join(', ')} and ${left.length - 10} more` : left.join(', ');
    const message = `rollout: ${left.length} agent${left.length === 1 ? ' is' : 's are'} in no wave (${named}); end the waves with {"percent": 100} to take the rest`;
    throw new DroverError('DROVER_ERR_INVALID_DEPLOY_SPEC', `nothing was deployed: ${message}`, [
      { path: '/rollout/waves', code: 'DROVER_ERR_INVALID_DEPLOY_SPEC', message },
    ]);
  }
  return waveOf;
}
