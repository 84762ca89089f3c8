/**
 * @drover/protocol/wire — what the long-lived agent process needs: the
 * TypeBox-free vocabulary (light.ts), the agent/server wire messages with
 * their decoders, and the version. Not the HTTP API's schemas, whose
 * building at import would stay in every idle agent's memory
 * (bench/README.md, agent memory).
 */
export * from './light.js';
export * from './messages.js';
export * from './version.js';
