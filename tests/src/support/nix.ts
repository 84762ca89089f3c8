/**
 * The real-Nix helpers of the end-to-end suite, which live in
 * @drover/test-support (shared with bench/): the fixture closures
 * (`buildFixtures`, `readActivations`), a signed binary cache on 127.0.0.1
 * (`startTestCache`), the local store (`deleteFromStore`, `isInStore`), the
 * process runner (`run`) and `repoRoot`. Assumes single-user root Nix as
 * configured by `scripts/setup-nix.sh`.
 */
export { buildFixtures, deleteFromStore, isInStore, readActivations, repoRoot, run, startTestCache, type Fixtures, type TestCache } from '@drover/test-support';
