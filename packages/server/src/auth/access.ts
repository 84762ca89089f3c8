/**
 * What an authorized request may act with inside one workspace: the
 * workspace, the effective role, and who to record as the actor. Resolved
 * by the HTTP layer (http/auth.ts) and handed to the services.
 */
import type { Actor, Role } from '@drover/protocol';

export interface Access {
  readonly workspaceId: string;
  readonly workspaceName: string;
  readonly role: Role;
  readonly actor: Actor;
}
