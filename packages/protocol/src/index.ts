/** @drover/protocol — the vocabulary every other Drover package speaks: the TypeBox-free part (light.ts) and the TypeBox schemas of the wire messages and the HTTP API. */
export * from './light.js';
export * from './schemas.js';
export * from './messages.js';
export * from './wire-codec.js';
export * from './api.js';
export * from './secrets-api.js';
export * from './webhooks-api.js';
export * from './closure-diff-schema.js';
export * from './cache.js';
export * from './schema-decoder.js';
export * from './params.js';
export * from './version.js';
export * from './checks.js';
export * from './audit.js';
