/**
 * The re-send of a Cachix deployment that never started. A Cachix agent's
 * deployment subprocess exits without a word when the agent's lock is busy
 * (a previous subprocess still runs, e.g. across the agent's own restart),
 * so the server sends the agent's newest Pending deployment again when it
 * was sent a while ago, is still Pending, and nothing of the agent is
 * InProgress (a deployment queued behind a running one is left alone).
 * Only Cachix agents connected to this replica are swept.
 */
import type { ServerContext } from '../context.js';
import { agentsWithInProgress, deploymentStatus } from '../deployments/repository.js';
import type { CachixDialect } from './agent-dialect.js';

/** How long a sent deployment may stay Pending before it is sent again. */
const RESEND_AFTER_MS = 10_000;
/** How often the sweep looks. */
const SWEEP_MS = 2_000;

export class CachixResend {
  private readonly open = new Set<CachixDialect>();
  private readonly timer: NodeJS.Timeout;
  private sweeping = false;

  constructor(private readonly ctx: ServerContext) {
    this.timer = setInterval(() => void this.sweep(), SWEEP_MS).unref();
  }

  track(dialect: CachixDialect): () => void {
    this.open.add(dialect);
    return () => this.open.delete(dialect);
  }

  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = Date.now();
      const due = [...this.open].filter((d) => d.agentId !== null && d.sent !== null && now - d.sent.at >= RESEND_AFTER_MS);
      if (due.length === 0) return;
      const busy = await agentsWithInProgress(
        this.ctx.db,
        due.map((d) => d.agentId ?? ''),
      );
      const again: string[] = [];
      for (const d of due) {
        if (d.agentId === null || d.sent === null || busy.has(d.agentId)) continue;
        if ((await deploymentStatus(this.ctx.db, d.agentId, d.sent.id)) === 'Pending') again.push(d.agentId);
        else d.sent = null;
      }
      if (again.length === 0) return;
      this.ctx.log.info({ agents: again.length }, 'sending Cachix agents again the deployments they never started');
      await this.ctx.hub.deliverNewest(again);
    } catch (err) {
      this.ctx.log.warn({ err }, 'the Cachix re-send sweep failed; retrying');
    } finally {
      this.sweeping = false;
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.open.clear();
  }
}
