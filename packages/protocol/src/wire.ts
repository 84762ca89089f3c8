/**
 * @drover/protocol/wire — what the long-lived agent process needs: the
 * TypeBox-free vocabulary (light.ts), the wire messages' types and limits,
 * their encoder and decoders (wire-codec.ts, which check frames with code
 * generated from the schemas), and the version. Nothing here loads TypeBox
 * — neither the HTTP API's schemas nor the wire messages' — whose building
 * at import would stay in every idle agent's memory (bench/README.md, agent
 * memory); test/light.test.ts checks that.
 */
export * from './light.js';
export * from './wire-constants.js';
export type * from './messages.js';
export * from './wire-codec.js';
export * from './version.js';
