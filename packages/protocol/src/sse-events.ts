/**
 * The server-sent event streams of the HTTP API: their event names and a
 * decoder for each event's data, so every client reads a stream by the same
 * rules. TypeBox-free (the web UI imports it at run time).
 */
import { decodeAgent, decodeDeployment, decodeLogLine } from './api-decoders.js';
import { array, object, string, type Decoded } from './decode.js';

/**
 * Server-sent events of GET /api/v1/workspaces/:workspace/events: what changed,
 * coalesced (at most a few events a second). A client patches what it shows.
 */
export const WORKSPACE_EVENTS = {
  /** data: {} — sent once the stream listens: changes from here on are delivered. */
  ready: 'ready',
  /** data: {agents: Agent[]} — agents that connected, disconnected or changed. */
  agents: 'agents',
  /** data: {deployments: Deployment[]} — deployments created or changed. */
  deployments: 'deployments',
  /** data: {} — too much changed at once, or events were missed: fetch again. */
  resync: 'resync',
} as const;

/**
 * Server-sent events of GET /deployments/:id/log with Accept: text/event-stream,
 * and of GET /activations/:id/events (the same events for every deployment of
 * one activation).
 */
export const LOG_EVENTS = {
  /** data: LogStreamLine; id: seq */
  line: 'line',
  /** data: Deployment, whenever its status or closure size changes */
  status: 'status',
  /** data: {} — every deployment shown is final (its last `status` came before); the stream closes */
  end: 'end',
} as const;

/** The data of a log stream's `line` event: one log line and whose it is. */
export const decodeLogStreamLine = (value: unknown, path = '') => ({
  ...object({ deployment: string, agent: string })(value, path),
  ...decodeLogLine(value, path),
});
export type LogStreamLine = ReturnType<typeof decodeLogStreamLine>;

/** The data of a log stream's `status` event. */
export const decodeLogStreamStatus = decodeDeployment;

/** The data of a workspace stream's `agents` event. */
export const decodeAgentsEvent = object({ agents: array(decodeAgent) });
export type AgentsEvent = Decoded<typeof decodeAgentsEvent>;

/** The data of a workspace stream's `deployments` event. */
export const decodeDeploymentsEvent = object({ deployments: array(decodeDeployment) });
export type DeploymentsEvent = Decoded<typeof decodeDeploymentsEvent>;
