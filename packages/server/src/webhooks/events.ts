/**
 * What a delivery says: the body of each event in the `json` format (the
 * event, when it happened, the workspace and the subject as the API shows
 * it) or the `slack` format (`{"text": …}` with a link, for Slack-compatible
 * incoming webhooks), and the event key that makes each event one delivery
 * per hook.
 */
import { diffSummary, type Deployment, type DeploymentStatus, type WebhookDeliveryEvent, type WebhookFormat } from '@drover/protocol';

/** An activation whose deployments all ended. */
export interface ActivationSubject {
  readonly id: string;
  readonly url: string;
  readonly counts: Partial<Record<DeploymentStatus, number>>;
  /** succeeded: every deployment Succeeded; failed: one or more Failed; else incomplete (cancelled, superseded, held). */
  readonly outcome: 'succeeded' | 'failed' | 'incomplete';
}

interface RolloutSubject {
  readonly activationId: string;
  readonly state: string;
  readonly reason: string | null;
  readonly url: string;
}

interface AgentSubject {
  readonly name: string;
  readonly lastSeenAt: string;
  readonly offlineMinutes: number;
  readonly url: string;
}

/** A deployment as the API shows it, with its closure diff (up to 768 KiB) cut to its one-line summary. */
type WebhookDeployment = Omit<Deployment, 'diff'> & { readonly changes: string | null };

type EventSubject =
  | { readonly event: 'deployment.started' | 'deployment.finished'; readonly deployment: WebhookDeployment }
  | { readonly event: 'activation.finished'; readonly activation: ActivationSubject }
  | { readonly event: 'rollout.finished'; readonly rollout: RolloutSubject }
  | { readonly event: 'agent.offline'; readonly agent: AgentSubject }
  | { readonly event: 'ping'; readonly webhookId: string };

/** One happening, ready to be queued for each hook that wants it. */
export interface DetectedEvent {
  readonly workspaceId: string;
  readonly workspace: string;
  /** Unique per happening: replicas that all see it build the same key. */
  readonly key: string;
  readonly occurredAt: string;
  readonly subject: EventSubject;
}

/**
 * A deployment's event. A final status can still be corrected (the agent's
 * own report replacing an operator's end, or a Cancelled one the agent had
 * already run), so the finished key names the status: a correction is one
 * more delivery, a repeat is none.
 */
export function deploymentEvent(workspaceId: string, event: 'deployment.started' | 'deployment.finished', deployment: Deployment, at: string): DetectedEvent {
  const key = event === 'deployment.finished' ? `${event}:${deployment.id}:${deployment.status}` : `${event}:${deployment.id}`;
  const { diff, ...rest } = deployment;
  return {
    workspaceId,
    workspace: deployment.workspace,
    key,
    occurredAt: at,
    subject: { event, deployment: { ...rest, changes: diff ? diffSummary(diff) : null } },
  };
}

export function activationOutcome(counts: Partial<Record<DeploymentStatus, number>>): ActivationSubject['outcome'] {
  const total = Object.values(counts).reduce((n, c) => n + c, 0);
  if ((counts.Failed ?? 0) > 0) return 'failed';
  return (counts.Succeeded ?? 0) === total ? 'succeeded' : 'incomplete';
}

function subjectJson(subject: EventSubject): Record<string, unknown> {
  switch (subject.event) {
    case 'deployment.started':
    case 'deployment.finished':
      return { deployment: subject.deployment };
    case 'activation.finished':
      return { activation: subject.activation };
    case 'rollout.finished':
      return { rollout: subject.rollout };
    case 'agent.offline':
      return { agent: subject.agent };
    case 'ping':
      return { webhook: { id: subject.webhookId } };
  }
}

/** Slack's mrkdwn link; `<`, `>` and `&` escaped as Slack asks. */
function link(url: string, text: string): string {
  const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
  return url ? `<${url}|${esc(text)}>` : esc(text);
}

function slackText(workspace: string, subject: EventSubject): string {
  switch (subject.event) {
    case 'deployment.started': {
      const d = subject.deployment;
      return `[${workspace}] ${link(d.url, `Deployment #${d.index}`)} of ${d.agent} started${d.dry ? ' (dry run)' : ''}`;
    }
    case 'deployment.finished': {
      const d = subject.deployment;
      return `[${workspace}] ${link(d.url, `Deployment #${d.index}`)} of ${d.agent}: *${d.status}*${d.reason ? ` — ${d.reason}` : ''}${d.changes ? ` (${d.changes})` : ''}`;
    }
    case 'activation.finished': {
      const a = subject.activation;
      const counts = Object.entries(a.counts)
        .map(([status, n]) => `${n} ${status}`)
        .join(', ');
      return `[${workspace}] ${link(a.url, 'Activation')} finished: *${a.outcome}* (${counts})`;
    }
    case 'rollout.finished': {
      const r = subject.rollout;
      return `[${workspace}] ${link(r.url, 'Rollout')} ${r.state}${r.reason ? ` — ${r.reason}` : ''}`;
    }
    case 'agent.offline': {
      const a = subject.agent;
      return `[${workspace}] Agent ${link(a.url, a.name)} has been offline for more than ${a.offlineMinutes} minutes (last seen ${a.lastSeenAt})`;
    }
    case 'ping':
      return `[${workspace}] Test delivery from Drover: this webhook works`;
  }
}

/** The exact body of one delivery. */
export function deliveryBody(format: WebhookFormat, deliveryId: string, event: DetectedEvent): string {
  if (format === 'slack') return JSON.stringify({ text: slackText(event.workspace, event.subject) });
  const name: WebhookDeliveryEvent = event.subject.event;
  return JSON.stringify({ id: deliveryId, event: name, occurredAt: event.occurredAt, workspace: event.workspace, ...subjectJson(event.subject) });
}
