/**
 * @drover/protocol/light — the vocabulary without TypeBox at run time, for
 * the web UI and the API client: error codes, validated names, token kinds,
 * roles, deployment states, staged rollouts, the API's fixed names, labels and selectors, the error-body parser,
 * the event-stream names with their decoders, and the API's types (type-only
 * exports, erased from the bundle). test/light.test.ts checks that nothing
 * here imports TypeBox.
 */
export * from './errors.js';
export * from './names.js';
export * from './tokens.js';
export * from './roles.js';
export * from './duration.js';
export * from './ansi.js';
export * from './deployments.js';
export * from './deploy-spec.js';
export * from './rollout.js';
export * from './labels.js';
export * from './dry-run.js';
export * from './secrets.js';
export * from './webhooks.js';
export * from './http.js';
export type { Decoder, Decoded } from './decode.js';
export * from './error-body.js';
export * from './api-decoders.js';
export * from './sse-events.js';
export * from './closure-diff.js';
export type { ClosureDiff } from './closure-diff-schema.js';
export type {
  ActivateResponse,
  ActivationView,
  Actor,
  Agent,
  Deployment,
  DeploymentDetail,
  Fleet,
  LogLineJson,
  Session,
  TokenInfo,
  User,
  Workspace,
} from './api.js';
export type { CacheInfo, CacheName, GcReport } from './cache.js';
export type { Secret, SecretSetResponse, SecretRemoveResponse } from './secrets-api.js';
export type { AuditActor, AuditDetails, AuditEntry, AuditList } from './audit.js';
export type { Usage, UsageMonth, Webhook, WebhookCreated, WebhookDelivery, WebhookDeliveryList } from './webhooks-api.js';
export type * from './api-types.js';
