/**
 * The frames of the Cachix Deploy protocol (cachix ≥ 1.2), in its own JSON
 * encoding: every control frame is `{method, command, agent, id}` with the
 * command a tagged object (`tag` beside record fields, `contents` for a
 * positional payload), `null` for nothing, lower-case UUIDs and ISO times.
 * Log sockets carry one `{line, time}` frame per line. This module only
 * translates; the rules live in the deployments service and repository.
 */
import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { isUuid, type DeploymentStatus } from '@drover/protocol';

/** The statuses a Cachix client knows (it refuses any other). */
export type CachixStatus = 'Pending' | 'InProgress' | 'Cancelled' | 'Failed' | 'Succeeded';

/** The binary cache handed to a Cachix agent: it substitutes from `<scheme>://<cacheName>.<host>` with the key `<cacheName>.<host>-1`. */
export interface CachixCache {
  readonly cacheName: string;
  /** The ed25519 public key, base64, without a key name. */
  readonly publicKey: string;
  readonly isPublic: boolean;
}

/** One deployment as a Cachix agent receives it. */
export interface CachixOrder {
  readonly id: string;
  readonly index: number;
  readonly storePath: string;
  readonly rollbackScript: string | null;
}

/** The lines a Cachix `activate` stops watching a log at (it matches the start of a line). */
export const ACTIVATION_END_PREFIXES = { succeeded: 'Successfully activated the deployment', failed: 'Failed to activate the deployment' } as const;

/** Whether a log line ends the log for a Cachix `activate`. */
export function endsActivationLog(line: string): boolean {
  return line.startsWith(ACTIVATION_END_PREFIXES.succeeded) || line.startsWith(ACTIVATION_END_PREFIXES.failed);
}

function frame(method: string, command: Record<string, unknown>, agent: string | null): string {
  return JSON.stringify({ method, command: { tag: method, ...command }, agent, id: randomUUID() });
}

/** The first frame on `/ws`: the agent's id and the cache it substitutes from (null: the machine's own). */
export function agentRegisteredFrame(agentId: string, cache: CachixCache | null): string {
  return frame('AgentRegistered', { contents: { cache, id: agentId } }, null);
}

export function deploymentFrame(agentId: string, order: CachixOrder): string {
  const { id, index, storePath, rollbackScript } = order;
  return frame('Deployment', { contents: { storePath, id, index, rollbackScript } }, agentId);
}

/** One log line as a Cachix client shows it. */
export function logFrame(line: string, time: string): string {
  return JSON.stringify({ line, time });
}

/** What the deployment subprocess reports on `/ws-deployment`. */
export type SubprocessReport =
  | { readonly kind: 'started'; readonly id: string; readonly time: string; readonly closureSize: number | null }
  | { readonly kind: 'finished'; readonly id: string; readonly time: string; readonly hasSucceeded: boolean };

const ReportFrame = TypeCompiler.Compile(
  Type.Object({
    method: Type.String(),
    command: Type.Union([
      Type.Object({
        tag: Type.Literal('DeploymentStarted'),
        id: Type.String(),
        time: Type.String({ maxLength: 64 }),
        closureSize: Type.Union([Type.Null(), Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })]),
      }),
      Type.Object({ tag: Type.Literal('DeploymentFinished'), id: Type.String(), time: Type.String({ maxLength: 64 }), hasSucceeded: Type.Boolean() }),
    ]),
  }),
);

/** A subprocess frame, or the reason it is not one. */
export function decodeSubprocessReport(text: string): SubprocessReport | { readonly error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'not JSON' };
  }
  if (!ReportFrame.Check(value)) return { error: 'not a DeploymentStarted or DeploymentFinished frame' };
  const c = value.command;
  const id = c.id.toLowerCase();
  if (!isUuid(id)) return { error: `deployment id ${JSON.stringify(c.id)} is not a UUID` };
  const time = storedTime(c.time);
  return c.tag === 'DeploymentStarted'
    ? { kind: 'started', id, time, closureSize: c.closureSize }
    : { kind: 'finished', id, time, hasSucceeded: c.hasSucceeded };
}

const LogLineFrame = TypeCompiler.Compile(Type.Object({ line: Type.String(), time: Type.Optional(Type.String({ maxLength: 64 })) }));

/** A frame of the log upload socket, or null when it is not one. */
export function decodeLogLine(text: string): { readonly line: string; readonly time: string } | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return LogLineFrame.Check(value) ? { line: value.line, time: storedTime(value.time) } : null;
}

/** A Cachix time (0–12 fractional digits) as Drover stores times (milliseconds, `Z`); the server's clock when it is none. */
function storedTime(time: string | undefined): string {
  const ms = time === undefined ? NaN : Date.parse(time);
  return new Date(Number.isNaN(ms) ? Date.now() : ms).toISOString();
}

/** A Drover status in Cachix's terms: Queued is still Pending, a superseded or held one will never run. */
export function cachixStatus(status: DeploymentStatus): CachixStatus {
  switch (status) {
    case 'Queued':
    case 'Pending':
      return 'Pending';
    case 'Superseded':
    case 'Held':
      return 'Cancelled';
    case 'InProgress':
    case 'Cancelled':
    case 'Failed':
    case 'Succeeded':
      return status;
  }
}
