/** @drover/protocol — the vocabulary every other Drover package speaks. */
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
export * from './version.js';
