/**
 * The staged-rollout side of `drover activate` and `drover deploy`: the
 * flags `--waves 1,10%,100%`, `--max-parallel`, `--max-failures`, `--pause`
 * and `--on-failure` turned into deploy.json's `rollout` (over the file's
 * own, key by key), the query of `--on` and `--force`, and the summary
 * grouped per wave.
 */
import {
  DroverError,
  ON_FAILURE,
  parseFailureBudget,
  parseWavesFlag,
  rolloutProblems,
  type Deployment,
  type DeploySpec,
  type OnFailure,
  type RolloutSpec,
} from '@drover/protocol';

export interface RolloutFlags {
  waves?: string;
  maxParallel?: string;
  maxFailures?: string;
  pause?: string;
  onFailure?: string;
  /** Only agents of the spec matching this selector. */
  on?: string;
  /** Deploy agents already on their path too. */
  force?: boolean;
}

function maxParallelOf(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1) throw new DroverError('DROVER_ERR_VALIDATION', `--max-parallel ${JSON.stringify(text)} must be a whole number, at least 1`);
  return n;
}

function maxFailuresOf(text: string): number | string {
  const budget = parseFailureBudget(text);
  if (!budget) throw new DroverError('DROVER_ERR_VALIDATION', `--max-failures ${JSON.stringify(text)} must be a count (0, 2) or a percentage (5%)`);
  return 'count' in budget ? budget.count : text.trim();
}

function onFailureOf(text: string): OnFailure {
  const found = ON_FAILURE.find((v) => v === text);
  if (!found) throw new DroverError('DROVER_ERR_VALIDATION', `--on-failure ${JSON.stringify(text)} must be stop or rollback`);
  return found;
}

/** The spec with the rollout flags applied over its `rollout` (a flag without --waves and no rollout in the file: one wave of all). */
export function withRollout(spec: DeploySpec, flags: RolloutFlags): DeploySpec {
  const given = [flags.waves, flags.maxParallel, flags.maxFailures, flags.pause, flags.onFailure].some((f) => f !== undefined);
  if (!given) return spec;
  const base: RolloutSpec = spec.rollout ?? { waves: [{ percent: 100 }] };
  const rollout: RolloutSpec = {
    ...base,
    ...(flags.waves !== undefined ? { waves: parseWavesFlag(flags.waves) } : {}),
    ...(flags.maxParallel !== undefined ? { maxParallel: maxParallelOf(flags.maxParallel) } : {}),
    ...(flags.maxFailures !== undefined ? { maxFailures: maxFailuresOf(flags.maxFailures) } : {}),
    ...(flags.pause !== undefined ? { pause: flags.pause } : {}),
    ...(flags.onFailure !== undefined ? { onFailure: onFailureOf(flags.onFailure) } : {}),
  };
  const problems = rolloutProblems(rollout);
  if (problems.length > 0) throw new DroverError('DROVER_ERR_VALIDATION', problems.map((p) => p.message).join('; '));
  return { ...spec, rollout };
}

/** `/activate` with the query the flags ask for. */
export function activatePath(flags: RolloutFlags & { cacheCheck?: boolean }): string {
  const query = new URLSearchParams();
  if (flags.cacheCheck === false) query.set('cacheCheck', 'false');
  if (flags.on !== undefined) query.set('on', flags.on);
  if (flags.force) query.set('force', 'true');
  const text = query.toString();
  return text ? `/activate?${text}` : '/activate';
}

/** The agents by wave (null: not in a rollout), waves in order. */
export function byWave<T>(agents: readonly [string, T][], waveOf: (agent: T) => number | null): [number | null, [string, T][]][] {
  const groups = new Map<number | null, [string, T][]>();
  for (const entry of agents) {
    const wave = waveOf(entry[1]);
    groups.set(wave, [...(groups.get(wave) ?? []), entry]);
  }
  return [...groups.entries()].sort(([a], [b]) => (a ?? -1) - (b ?? -1));
}

/** The heading of a wave in the summary: "Wave 1 (3 agents): 2 Succeeded, 1 Held". */
export function waveHeading(wave: number, deployments: readonly (Deployment | undefined)[]): string {
  const counts = new Map<string, number>();
  for (const d of deployments) counts.set(d?.status ?? 'unknown', (counts.get(d?.status ?? 'unknown') ?? 0) + 1);
  const parts = [...counts.entries()].map(([status, n]) => `${n} ${status}`).join(', ');
  return `Wave ${wave + 1} (${deployments.length} agent${deployments.length === 1 ? '' : 's'}): ${parts}`;
}
