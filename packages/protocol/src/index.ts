/** @drover/protocol — the vocabulary every other Drover package speaks (see light.ts for the TypeBox-free part). */
export * from './errors.js';
export * from './names.js';
export * from './tokens.js';
export * from './roles.js';
export * from './duration.js';
export * from './deployments.js';
export * from './deploy-spec.js';
export * from './schemas.js';
export * from './messages.js';
export * from './api.js';
export * from './cache.js';
export * from './http.js';
export type { Decoder, Decoded } from './decode.js';
export * from './error-body.js';
export * from './api-decoders.js';
export * from './sse-events.js';
export * from './schema-decoder.js';
export type * from './api-types.js';
