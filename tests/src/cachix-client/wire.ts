/**
 * What the stand-in Cachix client (agent.ts, deployment.ts, activate.ts)
 * shares, written from ../shared/research/cachix-protocol.md: how cachix
 * turns `--host` into URLs, the four headers, and its frames. Websockets use
 * the host name only, on the scheme's default port and the root path; the
 * tests' server listens on a random port, so CACHIX_CLIENT_WS_PORT stands in
 * for the reverse proxy a real setup puts on port 80/443
 * (docs/migrating-from-cachix.md).
 */
import { randomUUID } from 'node:crypto';

/** The cachix version this client speaks as (no wire change 1.8–1.11.1). */
export const CACHIX_VERSION = '1.11.1';

/** The base URL of REST calls: host, port and path prefix as given. */
export function restUrl(host: string, path: string): string {
  return `${host.replace(/\/$/, '')}${path}`;
}

/** A websocket URL as cachix forms it: ws(s)://HOSTNAME[:default port]/PATH — port and path of `--host` ignored. */
export function wsUrl(host: string, path: string): string {
  const u = new URL(host);
  const scheme = u.protocol === 'https:' ? 'wss' : 'ws';
  const port = process.env['CACHIX_CLIENT_WS_PORT'];
  return `${scheme}://${u.hostname}${port ? `:${port}` : ''}${path}`;
}

/** The Nix system of this machine as cachix reports it. */
function system(): string {
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  return `${arch}-${process.platform}`;
}

export function agentHeaders(token: string, name: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, name, version: CACHIX_VERSION, system: system() };
}

/** A control frame: `{method, command: {tag, …}, agent, id}`. */
export function controlFrame(method: string, fields: Record<string, unknown>, agent: string | null): string {
  return JSON.stringify({ method, command: { tag: method, ...fields }, agent, id: randomUUID() });
}

/** Times as cachix writes them: ISO-8601 UTC with nanoseconds. */
export function cachixNow(): string {
  return new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

export interface DeploymentCommand {
  readonly storePath: string;
  readonly id: string;
  readonly index: number;
  readonly rollbackScript: string | null;
}

export interface CacheCommand {
  readonly cacheName: string;
  readonly publicKey: string;
  readonly isPublic: boolean;
}

/** What the agent passes its deployment subprocess on stdin (the token never on the command line). */
export interface SubprocessInput {
  readonly host: string;
  readonly agentName: string;
  readonly agentId: string;
  readonly agentToken: string;
  readonly profile: string;
  readonly lockDir: string;
  readonly deployment: DeploymentCommand;
  readonly cache: CacheCommand | null;
}

export const END_SUCCESS = 'Successfully activated the deployment.';
export const END_FAILURE = 'Failed to activate the deployment.';
