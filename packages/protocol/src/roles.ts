/**
 * Roles and permissions.
 *
 * Every request acts for a principal: a bearer token (its kind fixes what it
 * may do, in its own workspace only) or a signed-in user (roles granted per
 * workspace or globally). Both are reduced to one question — may this
 * principal do ACTION in WORKSPACE? — answered by the tables below, so the UI
 * and the API cannot disagree.
 */
import type { TokenKind } from './tokens.js';

export const ROLES = ['admin', 'deployer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** What a request may ask for inside one workspace. */
export const ACTIONS = ['read', 'deploy', 'admin', 'agent'] as const;
export type Action = (typeof ACTIONS)[number];

/** read: view agents, deployments, logs. deploy: activate, cancel, re-run. admin: tokens, settings, rename, delete. */
export const ROLE_ACTIONS = {
  viewer: ['read'],
  deployer: ['read', 'deploy'],
  admin: ['read', 'deploy', 'admin'],
} as const satisfies Record<Role, readonly Action[]>;

/**
 * The role a bearer token acts with in its own workspace, by kind. Agent
 * tokens only hold an agent socket and push/pull tokens act only on binary
 * caches (see cache.ts), so they have none here.
 */
export const TOKEN_ROLES = {
  agent: null,
  push: null,
  pull: null,
  activate: 'deployer',
  admin: 'admin',
} as const satisfies Record<TokenKind, Role | null>;

export function roleAllows(role: Role, action: Action): boolean {
  return (ROLE_ACTIONS[role] as readonly Action[]).includes(action);
}

/** The stronger of two roles (a global grant and a workspace grant combine). */
export function strongerRole(a: Role | null, b: Role | null): Role | null {
  if (!a) return b;
  if (!b) return a;
  return ROLES.indexOf(a) <= ROLES.indexOf(b) ? a : b;
}
