/**
 * Validated names that cross Drover's edges: agent names, workspace names,
 * store paths and systems. Each is a branded string: once a value has this
 * type, it has passed its check, so deeper code never re-validates.
 */
import { DroverError, type ErrorCode } from './errors.js';

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type AgentName = Brand<string, 'AgentName'>;
export type WorkspaceName = Brand<string, 'WorkspaceName'>;
export type StorePath = Brand<string, 'StorePath'>;
export type UserName = Brand<string, 'UserName'>;

/** A parse function from a problem function and its guard: the value itself when valid, else a DroverError with the problem. */
function parser<T>(problemOf: (value: unknown) => string | null, isValid: (value: unknown) => value is T, code: ErrorCode): (value: unknown) => T {
  return (value) => {
    if (isValid(value)) return value;
    throw new DroverError(code, problemOf(value) ?? 'invalid value');
  };
}

/**
 * 1-64 letters, digits, ".", "_" or "-". Reserved: "." and ".." (they are
 * paths, not names: an agent's state lives in a folder named after it) and
 * "__proto__" (JSON parsers refuse it as a key, so deploy.json could never
 * name it).
 */
export const AGENT_NAME_PATTERN = '^(?!(?:\\.{1,2}|__proto__)$)[A-Za-z0-9._-]{1,64}$';
const RESERVED_AGENT_NAMES = new Set(['.', '..', '__proto__']);
const agentNameRe = new RegExp(AGENT_NAME_PATTERN);

export const WORKSPACE_NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,63}$';
const workspaceNameRe = new RegExp(WORKSPACE_NAME_PATTERN);

/** Nix's base-32 alphabet (no e, o, u, t) and the store directory. */
export const NIX_BASE32_ALPHABET = '0123456789abcdfghijklmnpqrsvwxyz';
export const STORE_DIR = '/nix/store';
/**
 * `/nix/store/<32 chars of nix base-32>-<name>`, the name as Nix defines it:
 * 1-211 of `A-Za-z0-9+-._?=`, never "." or "..", and not starting with ".-" or
 * "..-" (Nix's own checkName). A leading period is otherwise valid Nix
 * (`nix-store --add .bashrc`), so it is accepted.
 */
export const STORE_PATH_PATTERN = '^/nix/store/[0-9abcdfghijklmnpqrsvwxyz]{32}-(?!\\.{1,2}(?:-|$))[A-Za-z0-9+\\-._?=]{1,211}$';
const storePathRe = new RegExp(STORE_PATH_PATTERN);

export function agentNameProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'agent name must be a string';
  if (RESERVED_AGENT_NAMES.has(value)) return `agent name "${value}" is reserved`;
  if (!agentNameRe.test(value)) {
    return `agent name ${JSON.stringify(value)} is invalid: use 1-64 letters, digits, "-", "_" or "."`;
  }
  return null;
}

export function isAgentName(value: unknown): value is AgentName {
  return agentNameProblem(value) === null;
}

/** Returns the value as an AgentName, or throws DROVER_ERR_INVALID_AGENT_NAME stating the rule. */
export const parseAgentName = parser(agentNameProblem, isAgentName, 'DROVER_ERR_INVALID_AGENT_NAME');

export function workspaceNameProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'workspace name must be a string';
  if (!workspaceNameRe.test(value)) {
    return `workspace name ${JSON.stringify(value)} is invalid: use 1-64 lowercase letters, digits or "-", starting with a letter or digit`;
  }
  return null;
}

function isWorkspaceName(value: unknown): value is WorkspaceName {
  return workspaceNameProblem(value) === null;
}

export const parseWorkspaceName = parser(workspaceNameProblem, isWorkspaceName, 'DROVER_ERR_INVALID_WORKSPACE_NAME');

export function storePathProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'store path must be a string';
  if (!storePathRe.test(value)) {
    return `${JSON.stringify(value)} is not a store path (expected /nix/store/<32-char hash>-<name>)`;
  }
  return null;
}

export function isStorePath(value: unknown): value is StorePath {
  return storePathProblem(value) === null;
}

export const parseStorePath = parser(storePathProblem, isStorePath, 'DROVER_ERR_INVALID_STORE_PATH');

/** The 32-character hash part of a store path, the key of its narinfo. */
export function storePathHash(path: StorePath): string {
  return path.slice(STORE_DIR.length + 1, STORE_DIR.length + 33);
}

/** The name part of a store path (after the hash and dash). */
export function storePathName(path: StorePath): string {
  return path.slice(STORE_DIR.length + 34);
}

export const USER_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$';
const userNameRe = new RegExp(USER_NAME_PATTERN);

export function userNameProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'user name must be a string';
  if (!userNameRe.test(value)) {
    return `user name ${JSON.stringify(value)} is invalid: use 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit`;
  }
  return null;
}

function isUserName(value: unknown): value is UserName {
  return userNameProblem(value) === null;
}

export const parseUserName = parser(userNameProblem, isUserName, 'DROVER_ERR_VALIDATION');

/** Nix system doubles as used in deploy.json's rollbackScript keys. */
export const SYSTEM_PATTERN = '^[a-z0-9_]+-[a-z0-9_]+$';
const systemRe = new RegExp(SYSTEM_PATTERN);
export function isSystem(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 64 && systemRe.test(value);
}
