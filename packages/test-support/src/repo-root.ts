/**
 * The root of the Drover checkout, for tests and benchmarks that run
 * bin/drover or tests/fixtures/make-fixtures.sh from wherever they are built.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A file only the repository root holds. */
const MARKER = join('tests', 'fixtures', 'make-fixtures.sh');

/**
 * The repository root: `$DROVER_REPO_ROOT` if set, otherwise the nearest
 * ancestor of this module's directory that contains
 * tests/fixtures/make-fixtures.sh.
 */
export function repoRoot(): string {
  const override = process.env['DROVER_REPO_ROOT'];
  if (override) {
    const root = resolve(override);
    if (!existsSync(join(root, MARKER))) throw new Error(`DROVER_REPO_ROOT=${override} does not contain ${MARKER}`);
    return root;
  }
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, MARKER))) return dir;
    if (dirname(dir) === dir) break;
  }
  throw new Error(`cannot find ${MARKER} above ${start}; set DROVER_REPO_ROOT`);
}

/** bin/drover of this checkout. */
export function droverBin(): string {
  return join(repoRoot(), 'bin', 'drover');
}
