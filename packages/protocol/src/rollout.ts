/**
 * deploy.json's optional `rollout` key: a staged rollout in waves.
 *
 *     "rollout": {"waves": [{"agents": ["web-1"]}, {"selector": "role=web"}, {"percent": 100}],
 *                 "maxParallel": 50, "maxFailures": 0 | "5%", "pause": "2m", "onFailure": "stop" | "rollback"}
 *
 * A wave names agents, selects them by label (labels.ts), or takes the first
 * `percent` (or `count`) of the selected agents in name order, cumulatively;
 * each wave holds the agents no earlier wave took. The server refuses a
 * rollout that leaves agents in no wave. Validation lists every problem with
 * a JSON pointer, as deploy-spec.ts does for the rest of the file.
 */
import type { ErrorDetail } from './errors.js';
import { DroverError } from './errors.js';
import { agentNameProblem } from './names.js';
import { parseDuration } from './duration.js';
import { parseSelector } from './labels.js';

export type RolloutWave =
  | { readonly agents: readonly string[] }
  | { readonly selector: string }
  | { readonly percent: number }
  | { readonly count: number };

export const ON_FAILURE = ['stop', 'rollback'] as const;
export type OnFailure = (typeof ON_FAILURE)[number];

export interface RolloutSpec {
  readonly waves: readonly RolloutWave[];
  /** Deployments of a wave running at once (default: the whole wave). */
  readonly maxParallel?: number;
  /** Failed deployments the rollout tolerates: a count, or "P%" of its agents (default 0). */
  readonly maxFailures?: number | string;
  /** How long to wait between waves, e.g. "2m" (default none). */
  readonly pause?: string;
  readonly onFailure?: OnFailure;
}

const ROLLOUT_KEYS = ['waves', 'maxParallel', 'maxFailures', 'pause', 'onFailure'];
const WAVE_KEYS = ['agents', 'selector', 'percent', 'count'];
const MAX_WAVES = 100;
const MAX_PAUSE_MS = 86_400_000;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "5%" → {percent: 5}; 3 → {count: 3}; null when it is neither. */
export function parseFailureBudget(value: unknown): { count: number } | { percent: number } | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? { count: value } : null;
  if (typeof value !== 'string') return null;
  const m = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
  if (m) {
    const percent = Number(m[1]);
    return percent <= 100 ? { percent } : null;
  }
  return /^\d+$/.test(value.trim()) ? { count: Number(value.trim()) } : null;
}

/** How many failures a budget allows among `total` deployments (a percentage rounds down). */
export function failureAllowance(budget: number | string | undefined, total: number): number {
  const parsed = parseFailureBudget(budget ?? 0);
  if (!parsed) return 0;
  return 'count' in parsed ? parsed.count : Math.floor((parsed.percent * total) / 100);
}

/** The pause between waves in ms (0 without one); rolloutProblems checked it. */
export function pauseMs(rollout: RolloutSpec): number {
  return rollout.pause === undefined ? 0 : (parseDuration(rollout.pause) ?? 0);
}

/** A short name for a wave: its agents, its selector, "10%", or a count. */
export function waveLabel(wave: RolloutWave): string {
  if ('agents' in wave) return wave.agents.length <= 3 ? wave.agents.join(', ') : `${wave.agents.slice(0, 3).join(', ')} +${wave.agents.length - 3}`;
  if ('selector' in wave) return wave.selector;
  if ('percent' in wave) return `${wave.percent}%`;
  return `${wave.count} agent${wave.count === 1 ? '' : 's'}`;
}

function waveProblems(wave: unknown, at: string, add: (path: string, message: string) => void): void {
  if (!isPlainObject(wave)) {
    add(at, 'a wave must be an object: {"agents": [...]}, {"selector": "role=web"}, {"percent": 10} or {"count": 1}');
    return;
  }
  const keys = Object.keys(wave);
  for (const key of keys) if (!WAVE_KEYS.includes(key)) add(`${at}/${key}`, `unknown wave key ${JSON.stringify(key)} (allowed: ${WAVE_KEYS.join(', ')})`);
  const kinds = keys.filter((k) => WAVE_KEYS.includes(k));
  if (kinds.length !== 1) {
    add(at, 'a wave has exactly one of "agents", "selector", "percent" or "count"');
    return;
  }
  const value = wave[kinds[0] as string];
  switch (kinds[0]) {
    case 'agents':
      if (!Array.isArray(value) || value.length === 0) add(`${at}/agents`, '"agents" must be a non-empty array of agent names');
      else
        value.forEach((name: unknown, i) => {
          const problem = typeof name === 'string' ? agentNameProblem(name) : 'must be an agent name';
          if (problem) add(`${at}/agents/${i}`, problem);
        });
      break;
    case 'selector':
      if (typeof value !== 'string' || value.trim() === '') add(`${at}/selector`, '"selector" must be a selector such as "role=web"');
      else
        try {
          parseSelector(value);
        } catch (err) {
          add(`${at}/selector`, (err as Error).message);
        }
      break;
    case 'percent':
      if (typeof value !== 'number' || !(value > 0 && value <= 100)) add(`${at}/percent`, '"percent" must be a number above 0 and at most 100');
      break;
    case 'count':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) add(`${at}/count`, '"count" must be a whole number of agents, at least 1');
      break;
  }
}

/** Every problem of a `rollout` value, each with a pointer under /rollout. */
export function rolloutProblems(value: unknown): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const add = (path: string, message: string) => problems.push({ path, code: 'DROVER_ERR_INVALID_DEPLOY_SPEC', message: `rollout: ${message}` });
  if (!isPlainObject(value)) {
    add('/rollout', 'must be an object with "waves"');
    return problems;
  }
  for (const key of Object.keys(value)) {
    if (!ROLLOUT_KEYS.includes(key)) add(`/rollout/${key}`, `unknown key ${JSON.stringify(key)} (allowed: ${ROLLOUT_KEYS.join(', ')})`);
  }
  const waves = value['waves'];
  if (!Array.isArray(waves) || waves.length === 0) add('/rollout/waves', '"waves" must be a non-empty array');
  else if (waves.length > MAX_WAVES) add('/rollout/waves', `at most ${MAX_WAVES} waves (got ${waves.length})`);
  else waves.forEach((wave: unknown, i) => waveProblems(wave, `/rollout/waves/${i}`, add));
  const maxParallel = value['maxParallel'];
  if (maxParallel !== undefined && (typeof maxParallel !== 'number' || !Number.isSafeInteger(maxParallel) || maxParallel < 1)) {
    add('/rollout/maxParallel', '"maxParallel" must be a whole number, at least 1');
  }
  const maxFailures = value['maxFailures'];
  if (maxFailures !== undefined && parseFailureBudget(maxFailures) === null) {
    add('/rollout/maxFailures', '"maxFailures" must be a whole number (0 or more) or a percentage such as "5%"');
  }
  const pause = value['pause'];
  if (pause !== undefined) {
    const ms = typeof pause === 'string' ? parseDuration(pause) : null;
    if (ms === null || ms > MAX_PAUSE_MS) add('/rollout/pause', '"pause" must be a duration such as "2m" (at most 24h)');
  }
  const onFailure = value['onFailure'];
  if (onFailure !== undefined && !(ON_FAILURE as readonly unknown[]).includes(onFailure)) {
    add('/rollout/onFailure', '"onFailure" must be "stop" or "rollback"');
  }
  return problems;
}

/**
 * `--waves 1,10%,100%`: cumulative steps, a bare number a count of agents,
 * `P%` a percentage of them, in name order.
 */
export function parseWavesFlag(text: string): RolloutWave[] {
  const parts = text.split(',').map((p) => p.trim());
  return parts.map((part) => {
    const percent = /^(\d+(?:\.\d+)?)%$/.exec(part);
    if (percent) return { percent: Number(percent[1]) };
    if (/^\d+$/.test(part) && Number(part) > 0) return { count: Number(part) };
    throw new DroverError('DROVER_ERR_VALIDATION', `--waves ${JSON.stringify(text)}: ${JSON.stringify(part)} is neither a count (1) nor a percentage (10%)`);
  });
}
