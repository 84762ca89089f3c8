/**
 * What the UI takes from @drover/protocol: its types (type-only imports,
 * erased from the bundle) and, at run time, only the TypeBox-free entry
 * @drover/protocol/light — the constants, decoders and the role table the
 * server checks.
 */
import { roleAllows as protocolRoleAllows, type Action, type Role } from '@drover/protocol/light';

export {
  AGENT_STATUS_FILTERS,
  CSRF_HEADER,
  DEPLOYMENT_STATUSES,
  decodeAgentsEvent,
  decodeDeploymentLog,
  decodeDeploymentsEvent,
  decodeLogStreamLine,
  decodeLogStreamStatus,
  diffSummary,
  DroverError,
  formatDuration,
  formatSizeDelta,
  formatVersions,
  isFinalStatus,
  LOG_EVENTS,
  paletteHex,
  parseAnsi,
  TOKEN_KINDS,
  UNIT_ACTIONS,
  WEBHOOK_EVENTS,
  WEBHOOK_FORMATS,
  WORKSPACE_EVENTS,
} from '@drover/protocol/light';

export type {
  ActivationView,
  Actor,
  AnsiColor,
  AuditEntry,
  AuditList,
  AnsiSpan,
  Agent,
  AgentList,
  CacheInfo,
  ClosureDiff,
  Deployment,
  DeploymentDetail,
  DeploymentList,
  DeploymentStatus,
  Fleet,
  Labels,
  LogLineJson,
  Role,
  Secret,
  ServerInfo,
  Session,
  TokenCreated,
  TokenInfo,
  TokenKind,
  Usage,
  Webhook,
  WebhookCreated,
  WebhookDeliveryList,
  WebhookEvent,
  WebhookFormat,
  Workspace,
} from '@drover/protocol/light';

/** Whether ROLE may do ACTION (the same table the server checks); no role may do nothing. */
export function roleAllows(role: Role | null | undefined, action: Action): boolean {
  return !!role && protocolRoleAllows(role, action);
}
