/**
 * @drover/test-support: what Drover's tests (packages' unit tests, the
 * end-to-end suite in tests/) and the benchmark (bench/) share, one
 * implementation each.
 */
export { repoRoot, droverBin } from './repo-root.js';
export { bundledAgentPath } from './bundled-agent.js';
export { sleep, waitFor } from './wait.js';
export { freePort } from './ports.js';
export { tempDir, type TempDir } from './temp-dir.js';
export { Teardown } from './teardown.js';
export { errorMessage } from './error-message.js';
export { wsText } from './ws-text.js';
export { describeFailure, exitCodeOf, run, runOk, type RunOptions, type RunResult } from './run.js';
export { buildFixtures, FIXTURE_KINDS, fixturePaths, readActivations, type FixtureKind, type Fixtures } from './fixtures.js';
export { closureOf, deleteFromStore, isInStore } from './store.js';
export { startTestCache, type TestCache } from './binary-cache.js';
export { mountSmallTmpfs, type SmallFilesystem } from './small-filesystem.js';
export { startTcpProxy, type CutMode, type TcpProxy, type TcpProxyOptions } from './tcp-proxy.js';
export {
  DATABASE_URL_VARIABLE,
  DEFAULT_POSTGRES_URLS,
  dropSchema,
  findPostgres,
  probePostgres,
  randomSchema,
  REQUIRE_POSTGRES_VARIABLE,
  type PostgresTarget,
} from './postgres.js';
export { NIX_MODULE_TREES_VARIABLE, nixModuleTrees, type NixModuleTrees } from './nix-module-trees.js';
export {
  evalNixosConfig,
  renderNixosAgentUnit,
  type NixosAgentInstance,
  type NixosAgentUnitOptions,
  type NixosEvaluation,
  type PackageStandIn,
  type RenderedUnit,
} from './nixos-unit.js';
export { evalModuleHarness, nixString, nixValue, type ModuleHarness } from './module-harness.js';
export { nixEval } from './nix-eval.js';
