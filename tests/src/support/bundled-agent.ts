/**
 * The single-file agent for tests: `npm run bundle` (esbuild, a second or
 * two) is run once per test process, so what is tested is what the current
 * build ships, then its path.
 */
import { join } from 'node:path';
import { repoRoot, runOk } from '@drover/test-support';

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
