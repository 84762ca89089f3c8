/**
 * The single-file agent for tests and the benchmark: `npm run bundle`
 * (esbuild, a second or two) is run once per process into a directory of its
 * own (so concurrent test files never read a half-written bundle), so what is
 * tested or measured is what the current build ships; then its path.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './repo-root.js';
import { runOk } from './run.js';

let built: Promise<string> | undefined;

/** A fresh bundle made by the same `npm run bundle` as packages/cli/dist/drover-agent.mjs, removed when the process exits. */
export function bundledAgentPath(): Promise<string> {
  built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-bundle-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'drover-agent.mjs');
    // The last --outfile wins over the script's own.
    await runOk('npm', ['--prefix', repoRoot(), 'run', '--silent', 'bundle', '--', `--outfile=${file}`], {
      timeoutMs: 120_000,
      env: { npm_config_loglevel: 'error' },
    });
    return file;
  })();
  return built;
}
