/**
 * Prometheus metrics of one server process, on its own registry (so several
 * servers in one process, as in tests, do not share counters). Served at
 * GET /metrics to admin tokens (`bearer_token` in Prometheus' scrape config).
 *
 * With `drover server --workers N` a scrape reaches one worker, which asks
 * the primary for the whole server's figures (cluster.ts `clusterMetrics`):
 * counters, histograms and the agent gauge summed over the workers,
 * `drover_build_info` once.
 */
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DeploymentStatus } from '@drover/protocol';
import { version } from './version.js';

export class Metrics {
  readonly registry = new Registry();

  readonly agentConnections = new Counter({
    name: 'drover_agent_connections_total',
    help: 'Agent registrations (hello accepted) on this process',
    registers: [this.registry],
  });

  readonly agentFrames = new Counter({
    name: 'drover_agent_frames_total',
    help: 'Frames received from agents, by message type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly agentBadFrames = new Counter({
    name: 'drover_agent_bad_frames_total',
    help: 'Agent frames rejected as invalid (the connection was closed with 4400)',
    registers: [this.registry],
  });

  readonly deploymentsCreated = new Counter({
    name: 'drover_deployments_created_total',
    help: 'Deployments created by activations on this process',
    registers: [this.registry],
  });

  readonly deploymentsFinished = new Counter({
    name: 'drover_deployments_finished_total',
    help: 'Deployment outcomes reported by agents connected to this process, by status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'drover_http_request_duration_seconds',
    help: 'HTTP API request duration by route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /**
   * `connected` is read at scrape time: the number of agent sockets this
   * process holds. In a cluster worker (`clusterWorker`), the primary's
   * requests for this registry's figures are answered (prom-client's IPC
   * protocol), and `text()` returns the whole server's.
   */
  constructor(
    connected: () => number,
    private readonly clusterWide?: () => Promise<string>,
  ) {
    new Gauge({
      name: 'drover_agents_connected',
      help: 'Agent websockets held by this server process',
      registers: [this.registry],
      collect() {
        this.set(connected());
      },
    });
    new Gauge({
      name: 'drover_build_info',
      help: 'Drover version',
      labelNames: ['version'] as const,
      registers: [this.registry],
      aggregator: 'first',
    }).set({ version }, 1);
    collectDefaultMetrics({ register: this.registry, prefix: 'drover_process_' });
    if (clusterWide) {
      new AggregatorRegistry(); // installs the worker's answer to the primary's requests
      AggregatorRegistry.setRegistries([this.registry]);
    }
  }

  /** What GET /metrics serves: this process's figures, or with `--workers` the whole server's. */
  text(): Promise<string> {
    return this.clusterWide ? this.clusterWide() : this.registry.metrics();
  }

  finished(status: DeploymentStatus): void {
    this.deploymentsFinished.inc({ status });
  }
}
