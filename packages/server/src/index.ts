/** @drover/server — the control plane as a library (`startServer`) plus its admin helpers. */
export { startServer, splitListen, type ServerOptions, type RunningServer } from './server.js';
export { createLogger } from './logger.js';
export { startCluster, isClusterWorker, reportListening, type ClusterHandle } from './cluster.js';
export { openDatabase, migrateToLatest, isPostgresUrl, type OpenDatabase, type DatabaseOptions } from './db/connect.js';
export { createToken, listTokens, revokeToken, toTokenApi, verifyToken, type Principal } from './auth/tokens.js';
export {
  createWorkspace,
  ensureDefaultWorkspace,
  findWorkspace,
  listWorkspaces,
  setWorkspaceCache,
  toWorkspaceApi,
  DEFAULT_WORKSPACE,
} from './workspaces/repository.js';
export { createUser, deleteUser, grantRole, listUsers, revokeRole, setPassword } from './auth/users.js';
export { recordAudit, type AuditRecord } from './audit/service.js';
export { listAuditEntries, type AuditFilter } from './audit/repository.js';
export { appendLog, createDeployments, markFinished, markStarted } from './deployments/repository.js';
/** For the benchmark's `db` phase: a registration's and an activation's database work without a server. */
export { findActivationTargets, markDisconnected, registerAgents, type ClosedConnection, type Registration } from './agents/repository.js';
export { refreshStaleStatistics } from './db/planner-statistics.js';
export { version } from './version.js';
export { CacheService, type CacheOptions } from './cache/service.js';
export { findCache } from './cache/caches-repository.js';
export type { StorageConfig } from './cache/storage/storage.js';
