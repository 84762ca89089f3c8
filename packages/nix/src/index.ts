/** @drover/nix — what the agent needs from Nix: commands, profiles, substitution. */
export * from './command.js';
export * from './profile.js';
export * from './store.js';
export * from './system.js';
export * from './base32.js';
export * from './hash.js';
export * from './narinfo.js';
export * from './narinfo-fields.js';
export * from './signing.js';
export * from './nar.js';
export * from './dry-activation.js';
