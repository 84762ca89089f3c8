/**
 * The sample closures of tests/fixtures/make-fixtures.sh (NixOS /
 * nix-darwin / home-manager / plain profiles and rollback scripts), built
 * with real Nix, and the log their activation hooks append to.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { repoRoot } from './repo-root.js';
import { runOk } from './run.js';

/** The closures make-fixtures.sh builds, in the order of its JSON. */
export const FIXTURE_KINDS = ['nixos', 'nixos_b', 'nixos_failing', 'nixos_slow', 'darwin', 'home_manager', 'plain', 'rollback_ok', 'rollback_fail'] as const;
export type FixtureKind = (typeof FIXTURE_KINDS)[number];

/** Store paths of the sample closures, keyed like make-fixtures.sh's JSON. */
export type Fixtures = Record<FixtureKind, string> & {
  /** Absolute directory whose activations.log the hooks append to. */
  readonly markerDir: string;
};

const FIXTURE_SCRIPT = join('tests', 'fixtures', 'make-fixtures.sh');

/** The store paths of every fixture (for pushing to a cache or deleting from the store). */
export function fixturePaths(fixtures: Fixtures): string[] {
  return FIXTURE_KINDS.map((kind) => fixtures[kind]);
}

/** make-fixtures.sh's JSON decoded: every kind present as a store path. */
function decodeFixtures(stdout: string, markerDir: string): Fixtures {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new Error(`make-fixtures.sh printed invalid JSON: ${stdout}`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`make-fixtures.sh printed ${stdout}`);
  const fields = new Map<string, unknown>(Object.entries(parsed));
  const path = (kind: FixtureKind): string => {
    const value = fields.get(kind);
    if (typeof value !== 'string' || !value.startsWith('/nix/store/')) throw new Error(`make-fixtures.sh: missing or bad "${kind}" in ${stdout}`);
    return value;
  };
  return {
    nixos: path('nixos'),
    nixos_b: path('nixos_b'),
    nixos_failing: path('nixos_failing'),
    nixos_slow: path('nixos_slow'),
    darwin: path('darwin'),
    home_manager: path('home_manager'),
    plain: path('plain'),
    rollback_ok: path('rollback_ok'),
    rollback_fail: path('rollback_fail'),
    markerDir,
  };
}

/**
 * Build the sample closures (see tests/fixtures/make-fixtures.sh). A fresh
 * random salt (the default) gives store paths no cache or store has yet;
 * `slowSeconds` is how long nixos_slow's activation sleeps (default 20).
 */
export async function buildFixtures(opts: { markerDir: string; salt?: string; slowSeconds?: number }): Promise<Fixtures> {
  const markerDir = resolve(opts.markerDir);
  const args = [join(repoRoot(), FIXTURE_SCRIPT), markerDir];
  if (opts.salt !== undefined) args.push(opts.salt);
  const env: NodeJS.ProcessEnv = {};
  if (opts.slowSeconds !== undefined) env['SLOW'] = String(opts.slowSeconds);
  const res = await runOk('bash', args, { env });
  return decodeFixtures(res.stdout, markerDir);
}

/** Lines of MARKER_DIR/activations.log (empty lines dropped); [] if missing. */
export async function readActivations(markerDir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(markerDir, 'activations.log'), 'utf8');
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return [];
    throw err;
  }
  return text.split('\n').filter((line) => line !== '');
}
