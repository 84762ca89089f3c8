/**
 * What the UI takes from @drover/protocol: its types, and the few constants it
 * needs at run time. The constants are spelled out here rather than imported,
 * so the bundle never pulls in TypeBox; each is typed with `typeof` the
 * protocol's own constant, so a change there fails `tsc` here.
 */
import type * as P from '@drover/protocol';

export type {
  ActivateResponse,
  Actor,
  Agent,
  CacheInfo,
  Deployment,
  DeploymentStatus,
  LogLineJson,
  Role,
  Session,
  TokenInfo,
  TokenKind,
  User,
  Workspace,
} from '@drover/protocol';

export const API_PREFIX: typeof P.API_PREFIX = '/api/v1';
export const CSRF_HEADER: typeof P.CSRF_HEADER = 'x-drover-csrf';
export const WORKSPACE_EVENTS: typeof P.WORKSPACE_EVENTS = { ready: 'ready', agents: 'agents', deployments: 'deployments', resync: 'resync' };
export const LOG_EVENTS: typeof P.LOG_EVENTS = { line: 'line', status: 'status', end: 'end' };
export const TOKEN_KINDS: typeof P.TOKEN_KINDS = ['agent', 'activate', 'admin', 'push', 'pull'];
export const DEPLOYMENT_STATUSES: typeof P.DEPLOYMENT_STATUSES = ['Pending', 'InProgress', 'Succeeded', 'Failed', 'Cancelled', 'Superseded'];
export const ROLE_ACTIONS: typeof P.PERMISSIONS.roles = {
  viewer: ['read'],
  deployer: ['read', 'deploy'],
  admin: ['read', 'deploy', 'admin'],
};

/** The error body every API error carries. */
export interface ApiErrorBody {
  code: string;
  message: string;
  hint: string;
  details?: { path: string; code: string; message: string }[];
}

/** GET /api/v1/info. */
export interface ServerInfo {
  version: string;
  publicUrl: string;
}

export interface AgentList {
  agents: P.Agent[];
  total: number;
}

export interface DeploymentList {
  deployments: P.Deployment[];
  total?: number;
}

export interface DeploymentLog {
  deployment: P.Deployment;
  lines: P.LogLineJson[];
}

export interface TokenCreated {
  token: string;
  info: P.TokenInfo;
}

/** Whether ROLE may do ACTION (the same table the server checks). */
export function roleAllows(role: P.Role | null | undefined, action: P.Action): boolean {
  return !!role && (ROLE_ACTIONS[role] as readonly P.Action[]).includes(action);
}

export function isFinalStatus(status: P.DeploymentStatus): boolean {
  return status !== 'Pending' && status !== 'InProgress';
}
