/**
 * Roles and permissions: the ONE table of what each principal may do.
 *
 * Every request acts for a principal: a bearer token (its kind fixes what it
 * may do, in its own workspace only) or a signed-in user (roles granted per
 * workspace or globally). Both are reduced to one question — may this
 * principal do ACTION in WORKSPACE? — answered by PERMISSIONS below, so the UI,
 * the API and the binary cache cannot disagree. Which token kinds may be bound
 * to one agent or one cache is part of the same table.
 */
import type { TokenKind } from './tokens.js';

export const ROLES = ['admin', 'deployer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/**
 * What a request may ask for inside one workspace.
 * read: view agents, deployments, logs, caches. deploy: activate, cancel, re-run.
 * admin: tokens, settings, caches, rename, delete, metrics. agent: hold an agent
 * socket and run the reachability check. cache-pull / cache-push: read from /
 * upload to a binary cache of the workspace.
 */
export const ACTIONS = ['read', 'deploy', 'admin', 'agent', 'cache-pull', 'cache-push'] as const;
export type Action = (typeof ACTIONS)[number];

/** What a token of each kind may be bound to (agent tokens: one agent name; push/pull: one cache). */
export type TokenBinding = 'agent' | 'cache' | null;

/**
 * The permission table. Roles are what signed-in users hold; token kinds act
 * only in their own workspace. `binding` says what a token of the kind may be
 * restricted to when it is created.
 */
export const PERMISSIONS = {
  roles: {
    viewer: ['read'],
    deployer: ['read', 'deploy'],
    admin: ['read', 'deploy', 'admin'],
  },
  tokens: {
    agent: { actions: ['agent', 'cache-pull'], binding: 'agent' },
    activate: { actions: ['read', 'deploy', 'cache-pull'], binding: null },
    admin: { actions: ['read', 'deploy', 'admin', 'cache-pull', 'cache-push'], binding: null },
    push: { actions: ['cache-push', 'cache-pull'], binding: 'cache' },
    pull: { actions: ['cache-pull'], binding: 'cache' },
  },
} as const satisfies {
  roles: Record<Role, readonly Action[]>;
  tokens: Record<TokenKind, { actions: readonly Action[]; binding: TokenBinding }>;
};

export function roleAllows(role: Role, action: Action): boolean {
  const allowed: readonly Action[] = PERMISSIONS.roles[role];
  return allowed.includes(action);
}

export function tokenAllows(kind: TokenKind, action: Action): boolean {
  const allowed: readonly Action[] = PERMISSIONS.tokens[kind].actions;
  return allowed.includes(action);
}

/** What a token of this kind may be bound to. */
export function tokenBinding(kind: TokenKind): TokenBinding {
  return PERMISSIONS.tokens[kind].binding;
}

/** The token kinds that may do `action`, in the table's order (for error messages). */
export function tokenKindsAllowed(action: Action): TokenKind[] {
  const kinds: TokenKind[] = [];
  for (const [kind, entry] of Object.entries(PERMISSIONS.tokens)) {
    const actions: readonly Action[] = entry.actions;
    if (actions.includes(action) && isTokenKindKey(kind)) kinds.push(kind);
  }
  return kinds;
}

function isTokenKindKey(key: string): key is TokenKind {
  return key in PERMISSIONS.tokens;
}

/**
 * The role a token acts with in its own workspace: the strongest role whose
 * actions it has (activate → deployer, admin → admin); null for tokens that
 * act only on agent sockets or caches.
 */
export function tokenRole(kind: TokenKind): Role | null {
  for (const role of ROLES) {
    const needed: readonly Action[] = PERMISSIONS.roles[role];
    if (needed.every((a) => tokenAllows(kind, a))) return role;
  }
  return null;
}

/** The stronger of two roles (a global grant and a workspace grant combine). */
export function strongerRole(a: Role | null, b: Role | null): Role | null {
  if (!a) return b;
  if (!b) return a;
  return ROLES.indexOf(a) <= ROLES.indexOf(b) ? a : b;
}
