/**
 * The single-file agent for tests and the benchmark: `npm run bundle`
 * (esbuild, a second or two) is run once per process, so what is measured or
 * tested is what the current build ships, then its path.
 */
import { join } from 'node:path';
import { repoRoot } from './repo-root.js';
import { runOk } from './run.js';

let built: Promise<string> | undefined;

/** packages/cli/dist/drover-agent.mjs, freshly bundled from the compiled CLI. */
export function bundledAgentPath(): Promise<string> {
  built ??= (async () => {
    const root = repoRoot();
    await runOk('npm', ['--prefix', root, 'run', '--silent', 'bundle'], { timeoutMs: 120_000, env: { npm_config_loglevel: 'error' } });
    return join(root, 'packages', 'cli', 'dist', 'drover-agent.mjs');
  })();
  return built;
}
