/** Drover's version, as reported by agents and the API: the root package.json's, read once in @drover/protocol. */
export { DROVER_VERSION as version } from '@drover/protocol';
