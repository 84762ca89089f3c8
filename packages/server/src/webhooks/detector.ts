/**
 * Turns what happened into queued deliveries. Every replica runs one: it
 * reads the deployments the bus says changed (coalesced a few times a
 * second) and derives the events from the rows as they are — started once
 * `started_at` is set, finished once the status is final, an activation
 * finished once all its deployments are, a rollout finished once its state
 * is — so a replica that saw an event late, or twice, derives the same
 * event with the same key (and one whose read failed looks again at the
 * next sweep), and the unique (hook, key) of the deliveries
 * table keeps one delivery per event and hook however many replicas queued
 * it. A periodic sweep finds what no bus event announces (a rollout ending
 * between two steps, agents offline for longer than a hook's minutes) and,
 * after a bus resync, the deployments of the last minutes. Hooks get only
 * events that happened after they were created.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { FINAL_STATUSES, isFinalStatus, type DeploymentStatus, type WebhookEvent } from '@drover/protocol';
import { lastSeen, type Presence } from '../agents/repository.js';
import { agentStatusSql } from '../agents/status-sql.js';
import type { Bus, BusEvent } from '../bus/bus.js';
import { SerialJobs } from '../bus/serial-jobs.js';
import { WarningThrottle } from '../logger.js';
import type { Database } from '../db/schema.js';
import { getDeployments, toDeploymentApi, type DeploymentView } from '../deployments/repository.js';
import { activationUrl } from '../rollouts/service.js';
import { activationOutcome, deliveryBody, deploymentEvent, type DetectedEvent } from './events.js';
import {
  enabledWebhooks,
  eventsOf,
  expireDeliveries,
  foreignKeyHooks,
  knownEventKeys,
  pruneDeliveries,
  queueDeliveries,
  type QueuedEvent,
  type WebhookRow,
} from './repository.js';

export interface DetectorOptions {
  readonly db: Kysely<Database>;
  readonly bus: Bus;
  readonly log: Logger;
  readonly presence: Presence;
  /** The base of links in bodies (set once the server listens). */
  readonly publicUrl: () => string;
  /** How often the sweep runs (default 15 s). */
  readonly sweepMs: number;
  /** How long the delivery log keeps finished deliveries (default 30 days). */
  readonly retentionMs: number;
  /** Told when deliveries were queued, so the sender looks at once. */
  readonly onQueued: () => void;
  /** This replica's sealed-secret prefix (secret-box.ts), to warn about hooks sealed with another key. */
  readonly sealedPrefix: string;
}

const FLUSH_MS = 250;
/** The sweep looks back this far for finished rollouts and offline spells. */
const LOOK_BACK_MS = 24 * 60 * 60_000;
/** After a resync, deployments that started or finished this recently are looked at again. */
const RESYNC_WINDOW_MS = 10 * 60_000;
/** A delivery still pending this long after it was queued fails. */
const EXPIRY_MS = 24 * 60 * 60_000;
const WARN_EVERY_MS = 60 * 60_000;
const FINAL_ROLLOUT_STATES = ['completed', 'stopped', 'aborted'] as const;

function wants(hook: WebhookRow, event: WebhookEvent): boolean {
  return eventsOf(hook).includes(event);
}

export class WebhookDetector {
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly jobs: SerialJobs;
  private readonly unsubscribe: () => void;
  private readonly foreignKeyWarning = new WarningThrottle(WARN_EVERY_MS);
  /** A job failed (or the bus resynced): the next sweep re-reads the recent deployments. */
  private resyncDue = false;
  private readonly log: Logger;

  constructor(private readonly opts: DetectorOptions) {
    this.log = opts.log.child({ component: 'webhooks' });
    this.jobs = new SerialJobs({
      delayMs: FLUSH_MS,
      flush: (ids) => this.deploymentsChanged(ids),
      onError: (err) => {
        // What this job should have queued is found again by the next sweep's look at recent deployments.
        this.resyncDue = true;
        this.log.warn({ err }, 'webhook events could not be read or queued; the next sweep looks again');
      },
    });
    this.unsubscribe = opts.bus.subscribe((event) => this.onBusEvent(event));
    this.sweepTimer = setInterval(() => this.jobs.run(() => this.sweep(this.resyncDue)), opts.sweepMs).unref();
    this.jobs.run(() => this.sweep(true));
  }

  private onBusEvent(event: BusEvent): void {
    if (event.kind === 'deployment-changed') this.jobs.add(event.deploymentIds);
    else if (event.kind === 'deploy') this.jobs.add(event.superseded);
    else if (event.kind === 'resync') this.jobs.run(() => this.sweep(true));
  }

  /** The enabled hooks by workspace. */
  private async hooks(): Promise<Map<string, WebhookRow[]>> {
    const byWorkspace = new Map<string, WebhookRow[]>();
    for (const h of await enabledWebhooks(this.opts.db)) byWorkspace.set(h.workspace_id, [...(byWorkspace.get(h.workspace_id) ?? []), h]);
    return byWorkspace;
  }

  private async deploymentsChanged(ids: readonly string[], known?: Map<string, WebhookRow[]>): Promise<void> {
    const hooks = known ?? (await this.hooks());
    if (hooks.size === 0 || ids.length === 0) return;
    const rows = (await getDeployments(this.opts.db, ids)).filter((r) => hooks.has(r.workspace_id));
    await this.fromDeployments(rows, hooks);
  }

  private async fromDeployments(rows: readonly DeploymentView[], hooks: Map<string, WebhookRow[]>): Promise<void> {
    const events: DetectedEvent[] = [];
    const ended = new Set<string>();
    for (const r of rows) {
      const api = toDeploymentApi(r, this.opts.publicUrl());
      if (r.started_at !== null) events.push(deploymentEvent(r.workspace_id, 'deployment.started', api, r.started_at));
      if (isFinalStatus(r.status)) {
        events.push(deploymentEvent(r.workspace_id, 'deployment.finished', api, r.finished_at ?? r.ended_at ?? r.created_at));
        ended.add(r.activation_id);
      }
    }
    if (ended.size > 0) {
      events.push(...(await this.finishedActivations([...ended])));
      events.push(...(await this.finishedRollouts((q) => q.where('rollouts.activation_id', 'in', [...ended]))));
    }
    await this.queue(events, (e) => hooks.get(e.workspaceId) ?? []);
  }

  /** activation.finished of those of these activations whose deployments are all final. */
  private async finishedActivations(activationIds: readonly string[]): Promise<DetectedEvent[]> {
    const rows = await this.opts.db
      .selectFrom('deployments')
      .innerJoin('workspaces', 'workspaces.id', 'deployments.workspace_id')
      .select(['deployments.activation_id', 'deployments.workspace_id', 'workspaces.name', 'deployments.status'])
      .select((eb) => [eb.fn.countAll<string | number>().as('n'), eb.fn.max('deployments.finished_at').as('last')])
      .where('deployments.activation_id', 'in', activationIds)
      .groupBy(['deployments.activation_id', 'deployments.workspace_id', 'workspaces.name', 'deployments.status'])
      .execute();
    const byActivation = new Map<
      string,
      { workspaceId: string; workspace: string; counts: Partial<Record<DeploymentStatus, number>>; last: string | null; open: boolean }
    >();
    for (const r of rows) {
      const a = byActivation.get(r.activation_id) ?? { workspaceId: r.workspace_id, workspace: r.name, counts: {}, last: null, open: false };
      a.counts[r.status] = Number(r.n);
      if (!FINAL_STATUSES.includes(r.status)) a.open = true;
      if (r.last !== null && (a.last === null || r.last > a.last)) a.last = r.last;
      byActivation.set(r.activation_id, a);
    }
    const out: DetectedEvent[] = [];
    for (const [id, a] of byActivation) {
      if (a.open) continue;
      out.push({
        workspaceId: a.workspaceId,
        workspace: a.workspace,
        key: `activation.finished:${id}:${activationOutcome(a.counts)}`,
        occurredAt: a.last ?? new Date().toISOString(),
        subject: {
          event: 'activation.finished',
          activation: { id, url: activationUrl(this.opts.publicUrl(), a.workspace, id), counts: a.counts, outcome: activationOutcome(a.counts) },
        },
      });
    }
    return out;
  }

  /** rollout.finished of the staged rollouts the filter selects that are completed, stopped or aborted. */
  private async finishedRollouts(
    filter: (q: ReturnType<WebhookDetector['rolloutQuery']>) => ReturnType<WebhookDetector['rolloutQuery']>,
  ): Promise<DetectedEvent[]> {
    const rows = await filter(this.rolloutQuery()).execute();
    return rows.map((r) => ({
      workspaceId: r.workspace_id,
      workspace: r.name,
      key: `rollout.finished:${r.activation_id}`,
      occurredAt: r.updated_at,
      subject: {
        event: 'rollout.finished' as const,
        rollout: { activationId: r.activation_id, state: r.state ?? '', reason: r.reason, url: activationUrl(this.opts.publicUrl(), r.name, r.activation_id) },
      },
    }));
  }

  private rolloutQuery() {
    return this.opts.db
      .selectFrom('rollouts')
      .innerJoin('workspaces', 'workspaces.id', 'rollouts.workspace_id')
      .select(['rollouts.activation_id', 'rollouts.workspace_id', 'workspaces.name', 'rollouts.state', 'rollouts.reason', 'rollouts.updated_at'])
      .where('rollouts.state', 'in', FINAL_ROLLOUT_STATES);
  }

  /** agent.offline for one hook: its workspace's agents offline for longer than its minutes, each spell once (keyed by when the agent was last seen). */
  private async offlineAgents(hook: WebhookRow, workspace: string): Promise<DetectedEvent[]> {
    const now = Date.now();
    const minutesMs = hook.offline_minutes * 60_000;
    const lower = new Date(Math.max(now - LOOK_BACK_MS, Date.parse(hook.created_at) - minutesMs)).toISOString();
    const rows = await this.opts.db
      .selectFrom('agents')
      .leftJoin('agent_presence as p', 'p.agent_id', 'agents.id')
      .select(['agents.id', 'agents.name', 'agents.connection_id', 'agents.last_seen_at', 'p.last_seen_at as pong_at'])
      .where('agents.workspace_id', '=', hook.workspace_id)
      .where('agents.removed_at', 'is', null)
      .where(agentStatusSql('offline', this.opts.presence))
      .where((eb) => eb.or([eb('agents.last_seen_at', '>=', lower), eb('p.last_seen_at', '>=', lower)]))
      .execute();
    const out: DetectedEvent[] = [];
    for (const r of rows) {
      const seen = lastSeen(r);
      if (seen === null || Date.parse(seen) > now - minutesMs) continue;
      out.push({
        workspaceId: hook.workspace_id,
        workspace,
        key: `agent.offline:${r.id}:${seen}`,
        occurredAt: new Date(Date.parse(seen) + minutesMs).toISOString(),
        subject: {
          event: 'agent.offline',
          agent: {
            name: r.name,
            lastSeenAt: seen,
            offlineMinutes: hook.offline_minutes,
            url: `${this.opts.publicUrl().replace(/\/$/, '')}/w/${workspace}/agents/${encodeURIComponent(r.name)}`,
          },
        },
      });
    }
    return out;
  }

  /** What no bus event announces (finished rollouts, offline spells), the log's retention, and after a resync the recent deployments. */
  async sweep(resync: boolean): Promise<void> {
    const hooks = await this.hooks();
    await pruneDeliveries(this.opts.db, new Date(Date.now() - this.opts.retentionMs).toISOString());
    await expireDeliveries(
      this.opts.db,
      new Date(Date.now() - EXPIRY_MS).toISOString(),
      'not sent within 24 hours: the webhook stayed disabled, or no replica holds the key its secret is sealed with',
    );
    await this.warnForeignKeys();
    if (hooks.size === 0) return;
    const all = [...hooks.values()].flat();
    const names = new Map(
      (
        await this.opts.db
          .selectFrom('workspaces')
          .select(['id', 'name'])
          .where('id', 'in', [...hooks.keys()])
          .execute()
      ).map((w) => [w.id, w.name]),
    );
    const rolloutWorkspaces = [...new Set(all.filter((h) => wants(h, 'rollout.finished')).map((h) => h.workspace_id))];
    if (rolloutWorkspaces.length > 0) {
      const since = new Date(Date.now() - LOOK_BACK_MS).toISOString();
      const events = await this.finishedRollouts((q) => q.where('rollouts.workspace_id', 'in', rolloutWorkspaces).where('rollouts.updated_at', '>=', since));
      await this.queue(events, (e) => hooks.get(e.workspaceId) ?? []);
    }
    for (const hook of all.filter((h) => wants(h, 'agent.offline'))) {
      await this.queue(await this.offlineAgents(hook, names.get(hook.workspace_id) ?? ''), () => [hook]);
    }
    if (resync) {
      this.resyncDue = false;
      const cutoff = new Date(Date.now() - RESYNC_WINDOW_MS).toISOString();
      const recent = await this.opts.db
        .selectFrom('deployments')
        .select('id')
        .where('workspace_id', 'in', [...hooks.keys()])
        .where('created_at', '>=', new Date(Date.now() - LOOK_BACK_MS).toISOString())
        .where((eb) => eb.or([eb('started_at', '>=', cutoff), eb('finished_at', '>=', cutoff), eb('ended_at', '>=', cutoff)]))
        .execute();
      await this.deploymentsChanged(
        recent.map((r) => r.id),
        hooks,
      );
    }
  }

  /** Says (at most hourly) that hooks were sealed with another webhook key, whose deliveries this replica leaves to others. */
  private async warnForeignKeys(): Promise<void> {
    if (!this.foreignKeyWarning.due()) return;
    const n = await foreignKeyHooks(this.opts.db, this.opts.sealedPrefix);
    if (n === 0) return;
    this.foreignKeyWarning.said();
    this.log.error(
      { webhooks: n },
      "webhooks were created with another webhook key than this server's: this replica sends none of their deliveries; give every replica the same webhook_key_file",
    );
  }

  /** Queues each event for the hooks that want it and existed when it happened, skipping those queued already. */
  private async queue(events: readonly DetectedEvent[], hooksOf: (e: DetectedEvent) => readonly WebhookRow[]): Promise<void> {
    const perHook = new Map<WebhookRow, DetectedEvent[]>();
    for (const e of events) {
      if (e.subject.event === 'ping') continue;
      for (const h of hooksOf(e)) {
        if (wants(h, e.subject.event) && e.occurredAt >= h.created_at) perHook.set(h, [...(perHook.get(h) ?? []), e]);
      }
    }
    let added = 0;
    for (const [hook, list] of perHook) {
      const known = await knownEventKeys(
        this.opts.db,
        hook.id,
        list.map((e) => e.key),
      );
      const fresh: QueuedEvent[] = list
        .filter((e) => !known.has(e.key))
        .map((e) => ({
          webhookId: hook.id,
          workspaceId: hook.workspace_id,
          eventKey: e.key,
          event: e.subject.event,
          body: (id) => deliveryBody(hook.format, id, e),
        }));
      added += await queueDeliveries(this.opts.db, fresh);
    }
    if (added > 0) this.opts.onQueued();
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    clearInterval(this.sweepTimer);
    await this.jobs.stop();
  }
}
