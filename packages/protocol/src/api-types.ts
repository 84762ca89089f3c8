/**
 * Names for the types of API answers that api.ts and cache.ts give only as
 * schemas, for clients that import types without TypeBox at run time (this
 * module is type-only: nothing of it is left in JavaScript).
 */
import type { Static } from '@sinclair/typebox';
import type {
  AgentListSchema,
  DeploymentListSchema,
  DeploymentLogSchema,
  ServerInfoSchema,
  TokenCreateResponseSchema,
  TokenListSchema,
  WorkspaceListSchema,
} from './api.js';
import type { CacheListSchema } from './cache.js';

export type ServerInfo = Static<typeof ServerInfoSchema>;
export type AgentList = Static<typeof AgentListSchema>;
export type DeploymentList = Static<typeof DeploymentListSchema>;
export type DeploymentLog = Static<typeof DeploymentLogSchema>;
export type TokenList = Static<typeof TokenListSchema>;
export type TokenCreated = Static<typeof TokenCreateResponseSchema>;
export type WorkspaceList = Static<typeof WorkspaceListSchema>;
export type CacheList = Static<typeof CacheListSchema>;
