/**
 * `drover activate deploy.json`: start deployments, then follow them.
 *
 * Prints the activation's page and `[NAME] URL` for each agent at once (and
 * says which agents are offline, and which already run their path:
 * `unchanged`, no deployment unless --force), then — unless `--async` —
 * streams every agent's log live as `[NAME] line`, ends with one summary
 * line per agent (grouped per wave in a staged rollout, activate-rollout.ts),
 * and exits 0 only if every deployment succeeded (1 otherwise — failed, held
 * by a stopped rollout, cancelled — 2 when --timeout expired first).
 * The server refuses store paths the agents' cache lacks before creating
 * anything (exit 1) unless --no-cache-check; while agents are offline a
 * line every --progress-interval says so (activate-progress.ts).
 */
import { readFileSync } from 'node:fs';
import {
  decodeActivateResponse,
  decodeLogStreamLine,
  decodeLogStreamStatus,
  DroverError,
  formatDuration,
  LOG_EVENTS,
  isFinalStatus,
  parseDeploySpec,
  parseDeploySpecText,
  parseDuration,
  type ActivateResponse,
  type Deployment,
  type DeploySpec,
} from '@drover/protocol';
import { messageData, openEventStream } from '@drover/client';
import type { ApiClient } from '../client.js';
import { info, out, printJson } from '../output.js';
import { readerClient, type ReaderFlags } from './reader.js';
import { progressIntervalMs, reportOfflineAgents } from './activate-progress.js';
import { activatePath, byWave, waveHeading, withRollout, type RolloutFlags } from './activate-rollout.js';

export interface ActivateFlags extends ReaderFlags, RolloutFlags {
  agent?: string[];
  async?: boolean;
  timeout?: string;
  activationTimeout?: string;
  confirmTimeout?: string;
  json?: boolean;
  /** false with --no-cache-check. */
  cacheCheck?: boolean;
  progressInterval?: string;
}

/** The spec with the deadline flags applied over its own keys (the server validates them like the file's). */
function withDeadlines(spec: DeploySpec, flags: Omit<ActivateFlags, 'agent'>): DeploySpec {
  return {
    ...spec,
    ...(flags.activationTimeout !== undefined ? { activationTimeout: flags.activationTimeout } : {}),
    ...(flags.confirmTimeout !== undefined ? { confirmTimeout: flags.confirmTimeout } : {}),
  };
}

export const EXIT = { ok: 0, failed: 1, timeout: 2 } as const;

function readSpec(file: string, only: readonly string[] | undefined): DeploySpec {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    throw new DroverError('DROVER_ERR_INVALID_DEPLOY_SPEC', `cannot read ${file}: ${(err as Error).message}`);
  }
  const spec = parseDeploySpecText(text, file);
  if (!only || only.length === 0) return spec;
  const missing = only.filter((name) => !(name in spec.agents));
  if (missing.length > 0) {
    throw new DroverError('DROVER_ERR_INVALID_DEPLOY_SPEC', `--agent ${missing.join(', ')} not in ${file} (it has: ${Object.keys(spec.agents).join(', ')})`);
  }
  const agents = Object.fromEntries(Object.entries(spec.agents).filter(([name]) => only.includes(name)));
  return { ...spec, agents };
}

function summaryLine(d: Deployment | undefined): string {
  if (!d) return 'Deployment status unknown';
  const took = d.startedAt && d.finishedAt ? ` in ${formatDuration(Date.parse(d.finishedAt) - Date.parse(d.startedAt))}` : '';
  switch (d.status) {
    case 'Succeeded':
      return `Deployed successfully (#${d.index}${took})`;
    case 'Failed':
      return `Failed to deploy (#${d.index}${took}): ${d.reason ?? 'no reason given'}`;
    case 'Cancelled':
      return `Deployment cancelled (#${d.index})`;
    case 'Superseded':
      return `Superseded by a newer deployment (#${d.index})`;
    case 'InProgress':
      return `Still deploying (#${d.index})`;
    case 'Pending':
      return `Deployment not started (#${d.index}): still pending`;
    case 'Queued':
      return `Deployment not started (#${d.index}): still queued in its wave`;
    case 'Held':
      return `Held, never started (#${d.index}): ${d.reason ?? 'the rollout stopped'}`;
  }
}

/** --timeout in milliseconds (null: wait as long as it takes), checked before anything is done. */
/** How long to wait and how often to report offline agents, from the flags; checked before anything is built or created. */
export interface FollowTimings {
  readonly timeoutMs: number | null;
  readonly progressMs: number;
}

export function followTimings(flags: Pick<ActivateFlags, 'timeout' | 'progressInterval'>): FollowTimings {
  const timeoutMs = flags.timeout === undefined ? null : parseDuration(flags.timeout);
  if (flags.timeout !== undefined && (timeoutMs === null || timeoutMs <= 0)) {
    throw new DroverError('DROVER_ERR_VALIDATION', `--timeout ${JSON.stringify(flags.timeout)} is not a duration (e.g. 90s, 5m, 1h)`);
  }
  return { timeoutMs, progressMs: progressIntervalMs(flags.progressInterval) };
}

export async function activateCommand(file: string, flags: ActivateFlags): Promise<number> {
  const timings = followTimings(flags);
  const spec = readSpec(file, flags.agent);
  return activateSpec(spec, flags, timings);
}

/**
 * Starts the deployments of `spec` and follows them (the whole of `activate`
 * after the spec is read; `drover deploy` ends with it too). Returns the exit code.
 */
export async function activateSpec(spec: DeploySpec, flags: Omit<ActivateFlags, 'agent'>, { timeoutMs, progressMs }: FollowTimings): Promise<number> {
  spec = parseDeploySpec(withRollout(withDeadlines(spec, flags), flags));
  const api = readerClient({ server: flags.server, token: flags.token ?? process.env['DROVER_ACTIVATE_TOKEN'] });
  const started = Date.now();
  const response = await api.request('POST', activatePath(flags), spec, decodeActivateResponse);
  const agents = Object.entries(response.agents).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const nameById = new Map(agents.map(([n, a]) => [a.id, n]));
  const width = Math.max(0, ...agents.map(([n]) => n.length), ...response.unchanged.map((n) => n.length));
  const tag = (name: string) => `[${name}]`.padEnd(width + 2);
  const say = flags.json ? info : out;
  const waves = new Set(agents.map(([, a]) => a.wave));

  say(
    `Deploying ${agents.length} agent${agents.length === 1 ? '' : 's'}${spec.rollout ? ` in ${waves.size} wave${waves.size === 1 ? '' : 's'}` : ''} (activation ${response.activationId}): ${response.url}`,
  );
  for (const name of response.unchanged) say(`${tag(name)} unchanged: already on ${pathOf(spec, name) ?? 'its path'} (--force deploys it again)`);
  for (const [name, a] of agents) {
    say(`${tag(name)} ${a.wave === null ? '' : `wave ${a.wave + 1} `}${a.url}`);
    if (!a.online) {
      say(
        a.lastSeenAt
          ? `${tag(name)} offline since ${a.lastSeenAt}, deploys when it reconnects`
          : `${tag(name)} has not connected yet, deploys when it connects`,
      );
    }
  }
  if (flags.async || agents.length === 0) {
    if (flags.json) printJson(flags.async ? response : unchangedJson(response, spec));
    return EXIT.ok;
  }

  const stopProgress = reportOfflineAgents(api, response.activationId, progressMs, (name, text) => say(`${tag(name)} ${text}`));
  const latest = await follow(api, response, timeoutMs === null ? null : started + timeoutMs, (id, agent, text) =>
    say(`${tag(nameById.get(id) ?? agent)} ${text}`),
  ).finally(stopProgress);
  const deployments = agents.map(([, a]) => latest.get(a.id));
  if (flags.json) {
    printJson([...deployments, ...unchangedJson(response, spec)]);
  } else {
    out('Deployment summary:');
    for (const [wave, members] of byWave(agents, (a) => a.wave)) {
      if (wave !== null) out(waveHeading(wave, members.map(([, a]) => latest.get(a.id))));
      for (const [name, a] of members) out(`${tag(name)} ${summaryLine(latest.get(a.id))}`);
    }
    for (const name of response.unchanged) out(`${tag(name)} Unchanged: already on its path`);
  }
  const allFinal = deployments.every((d) => d && isFinalStatus(d.status));
  if (!allFinal) {
    info(`timed out after ${flags.timeout}; unfinished deployments stay pending and run when their agents are ready`);
    return EXIT.timeout;
  }
  return deployments.every((d) => d?.status === 'Succeeded') ? EXIT.ok : EXIT.failed;
}

function pathOf(spec: DeploySpec, agent: string): string | null {
  return (spec.agents as Readonly<Record<string, string>>)[agent] ?? null;
}

/** What `--json` lists for the agents left alone: `{agent, status: "Unchanged", storePath}`, after the deployments. */
function unchangedJson(response: ActivateResponse, spec: DeploySpec): { agent: string; status: 'Unchanged'; storePath: string | null }[] {
  return response.unchanged.map((agent) => ({ agent, status: 'Unchanged', storePath: pathOf(spec, agent) }));
}

/**
 * Follows the activation's event stream until every deployment is final
 * (`end`) or the deadline passes, printing each log line once (a reconnect
 * replays the log; lines already shown are skipped by seq). Returns the
 * last status the stream reported for each deployment: the server sends one
 * for every deployment when the stream opens and on every change, so after
 * `end` each is final.
 */
async function follow(
  api: ApiClient,
  response: ActivateResponse,
  deadline: number | null,
  print: (id: string, agent: string, text: string) => void,
): Promise<Map<string, Deployment>> {
  const latest = new Map<string, Deployment>();
  const lastSeq = new Map<string, number>();
  const stream = openEventStream(
    api.http,
    `/activations/${response.activationId}/events`,
    {
      onMessage: (m) => {
        if (m.event === LOG_EVENTS.line) {
          const line = messageData(m, decodeLogStreamLine);
          if ((lastSeq.get(line.deployment) ?? -1) >= line.seq) return; // already shown before a reconnect
          lastSeq.set(line.deployment, line.seq);
          print(line.deployment, line.agent, line.text);
        } else if (m.event === LOG_EVENTS.status) {
          const d = messageData(m, decodeLogStreamStatus);
          latest.set(d.id, d);
        } else if (m.event === LOG_EVENTS.end) {
          stream.close();
        }
      },
      onError: (err, fatal) => {
        if (!fatal) info(`log stream interrupted (${err.message}); reconnecting`);
      },
      onDrop: () => info('log stream interrupted (log stream closed early); reconnecting'),
    },
    { maxDelayMs: 10_000 },
  );
  const timer = deadline === null ? undefined : setTimeout(() => stream.close(), Math.max(0, deadline - Date.now()));
  const fatal = await stream.done;
  clearTimeout(timer);
  if (fatal) throw fatal;
  return latest;
}
