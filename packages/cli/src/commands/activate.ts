/**
 * `drover activate deploy.json`: start deployments, then follow them.
 *
 * Prints `[NAME] URL` for each agent at once (and says which agents are
 * offline), then — unless `--async` — streams every agent's log live as
 * `[NAME] line`, ends with one summary line per agent, and exits 0 only if
 * every deployment succeeded (1 otherwise, 2 when --timeout expired first).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DroverError,
  formatDuration,
  isFinalStatus,
  parseDeploySpecText,
  parseDuration,
  type ActivateResponse,
  type Deployment,
  type DeploySpec,
} from '@drover/protocol';
import { ApiError } from '../client.js';
import { info, out, printJson } from '../output.js';
import { readerClient, type ReaderFlags } from './reader.js';

export interface ActivateFlags extends ReaderFlags {
  agent?: string[];
  async?: boolean;
  timeout?: string;
  json?: boolean;
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
  return { ...spec, agents } as DeploySpec;
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
  }
}

export async function activateCommand(file: string, flags: ActivateFlags): Promise<number> {
  const timeoutMs = flags.timeout === undefined ? null : parseDuration(flags.timeout);
  if (flags.timeout !== undefined && (timeoutMs === null || timeoutMs <= 0)) {
    throw new DroverError('DROVER_ERR_VALIDATION', `--timeout ${JSON.stringify(flags.timeout)} is not a duration (e.g. 90s, 5m, 1h)`);
  }
  const spec = readSpec(file, flags.agent);
  const api = readerClient({ server: flags.server, token: flags.token ?? process.env['DROVER_ACTIVATE_TOKEN'] });
  const started = Date.now();
  const response = await api.request<ActivateResponse>('POST', '/activate', spec);
  const names = Object.keys(response.agents).sort();
  const nameById = new Map(names.map((n) => [response.agents[n]!.id, n]));
  const width = Math.max(...names.map((n) => n.length));
  const tag = (name: string) => `[${name}]`.padEnd(width + 2);
  const say = flags.json ? info : out;

  say(`Deploying ${names.length} agent${names.length === 1 ? '' : 's'} (activation ${response.activationId}):`);
  for (const name of names) {
    const a = response.agents[name]!;
    say(`${tag(name)} ${a.url}`);
    if (!a.online) {
      say(a.lastSeenAt ? `${tag(name)} offline since ${a.lastSeenAt}, deploys when it reconnects` : `${tag(name)} has not connected yet, deploys when it connects`);
    }
  }
  if (flags.async) {
    if (flags.json) printJson(response);
    return EXIT.ok;
  }

  const latest = new Map<string, Deployment>();
  const lastSeq = new Map<string, number>();
  const deadline = timeoutMs === null ? null : started + timeoutMs;
  const controller = new AbortController();
  const timer = deadline === null ? undefined : setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
  let ended = false;
  let failures = 0;
  while (!ended && !controller.signal.aborted) {
    try {
      await api.events(
        `/activations/${response.activationId}/events`,
        (event, data) => {
          const payload = JSON.parse(data) as Record<string, unknown>;
          if (event === 'line') {
            const id = payload['deployment'] as string;
            const seq = payload['seq'] as number;
            if ((lastSeq.get(id) ?? -1) >= seq) return; // already shown before a reconnect
            lastSeq.set(id, seq);
            say(`${tag(nameById.get(id) ?? String(payload['agent']))} ${String(payload['text'])}`);
          } else if (event === 'status') {
            const d = payload as unknown as Deployment;
            latest.set(d.id, d);
          } else if (event === 'end') {
            ended = true;
          }
        },
        controller.signal,
      );
      if (!ended && !controller.signal.aborted) throw new Error('log stream closed early');
    } catch (err) {
      if (controller.signal.aborted) break;
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) throw err;
      failures++;
      info(`log stream interrupted (${(err as Error).message}); reconnecting`);
      await sleep(Math.min(10_000, 500 * 2 ** Math.min(failures, 5)));
    }
  }
  clearTimeout(timer);
  const final = await api.request<{ deployments: Deployment[] }>('GET', `/activations/${response.activationId}`);
  for (const d of final.deployments) latest.set(d.id, d);
  const deployments = names.map((n) => latest.get(response.agents[n]!.id));
  if (flags.json) {
    printJson(deployments);
  } else {
    out('Deployment summary:');
    for (const name of names) out(`${tag(name)} ${summaryLine(latest.get(response.agents[name]!.id))}`);
  }
  const allFinal = deployments.every((d) => d && isFinalStatus(d.status));
  if (!allFinal) {
    info(`timed out after ${flags.timeout}; unfinished deployments stay pending and run when their agents are ready`);
    return EXIT.timeout;
  }
  return deployments.every((d) => d?.status === 'Succeeded') ? EXIT.ok : EXIT.failed;
}
