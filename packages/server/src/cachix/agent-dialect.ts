/**
 * A Cachix Deploy agent on the hub (hub/agent-hub.ts): its `/ws` socket is
 * held, registered, pinged, replaced and closed exactly like a Drover
 * agent's, and this dialect is all that differs — the hello is made from
 * the upgrade's headers, `registered` and `deploy` are re-encoded as
 * AgentRegistered and Deployment, and what Cachix has no message for (acks,
 * cancels) is dropped. Orders a Cachix agent cannot carry out (dry runs,
 * secrets-only deployments) are not sent: they fail with the reason.
 */
import { PROTOCOL_VERSION, type DeploymentOrder, type HelloMessage, type ServerMessage } from '@drover/protocol';
import type { AgentDialect } from '../hub/agent-hub.js';
import { agentRegisteredFrame, deploymentFrame, type CachixCache } from './wire.js';

/** What the upgrade request of a Cachix agent says about it. */
export interface CachixHeaders {
  readonly name: string;
  readonly version: string;
  readonly system: string;
  /** Where it connects from: the host name the hub compares to spot two machines using one name. */
  readonly address: string;
}

/** The hello a Drover agent would have sent: Cachix sends its name, version and system as headers, and no profile. */
export function cachixHello(headers: CachixHeaders): HelloMessage {
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    agent: headers.name,
    version: `cachix ${headers.version}`,
    system: headers.system,
    profile: '',
    hostname: headers.address,
  };
}

/** Why an order is not sent to a Cachix agent, or null when it can be. */
function unsupported(order: DeploymentOrder): string | null {
  if (order.dry) return 'a Cachix agent cannot do a dry run; nothing was done on the machine';
  if (order.secretsOnly) return 'a Cachix agent cannot receive secrets; nothing was done on the machine';
  return null;
}

export interface DialectHooks {
  /** An order the agent cannot carry out: record it as failed with this reason. */
  refuse(agentId: string, orderId: string, reason: string): void;
}

export class CachixDialect implements AgentDialect {
  /** Set once the hub registered the agent. */
  agentId: string | null = null;
  /** The last Deployment sent and when (the re-send of one that never started, resend.ts). */
  sent: { id: string; at: number } | null = null;

  constructor(
    readonly hello: HelloMessage,
    readonly workspaceId: string,
    private readonly cache: CachixCache | null,
    private readonly hooks: DialectHooks,
  ) {}

  encode(message: ServerMessage): string | null {
    switch (message.type) {
      case 'registered':
        this.agentId = message.agentId;
        return agentRegisteredFrame(message.agentId, this.cache);
      case 'deploy': {
        const order = message.deployment;
        if (this.agentId === null) return null;
        const reason = unsupported(order);
        if (reason !== null) {
          this.hooks.refuse(this.agentId, order.id, reason);
          return null;
        }
        this.sent = { id: order.id, at: Date.now() };
        return deploymentFrame(this.agentId, order);
      }
      case 'deployment.ack':
      case 'deployment.cancel':
        return null;
    }
  }
}
