/**
 * What an authorized request may act with inside one workspace: the
 * workspace, the effective role, who to record as the actor, and the
 * credential it came with. Resolved by the HTTP layer (http/auth.ts) and
 * handed to the services.
 */
import type { Actor, Role } from '@drover/protocol';

/** What a request authenticated with: streams it opens end when this does (revoked, signed out, expired). */
export type Credential = { readonly kind: 'token'; readonly id: string } | { readonly kind: 'session'; readonly id: string; readonly expiresAt: string };

export interface Access {
  readonly workspaceId: string;
  readonly workspaceName: string;
  readonly role: Role;
  readonly actor: Actor;
  readonly credential: Credential;
}
