/**
 * The unpacked nixpkgs lib, Home Manager and nix-darwin trees the Nix module
 * tests evaluate Drover's modules in (test data outside the checkout, see
 * scripts/unpack-nix-module-trees.sh): where they are, or why a test skips.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo-root.js';
import { run } from './run.js';

/** Set by scripts/test.sh to the unpacked trees' directory. */
export const NIX_MODULE_TREES_VARIABLE = 'DROVER_NIX_MODULE_TREES';

const TREES = ['nixpkgs-lib', 'home-manager', 'nix-darwin'] as const;

/** Where the trees are (`path`), or why the module tests are skipped (`skip`, one line for the test report). */
export type NixModuleTrees = { readonly path: string; readonly skip: false } | { readonly path: undefined; readonly skip: string };

let found: Promise<NixModuleTrees> | undefined;

async function locate(env: NodeJS.ProcessEnv): Promise<NixModuleTrees> {
  const given = env[NIX_MODULE_TREES_VARIABLE];
  if (given) {
    const absent = TREES.filter((t) => !existsSync(join(given, t)));
    if (absent.length > 0)
      throw new Error(`${NIX_MODULE_TREES_VARIABLE}=${given} holds no ${absent.join(', ')}; unset it or run scripts/unpack-nix-module-trees.sh`);
    return { path: given, skip: false };
  }
  const script = join(repoRoot(), 'scripts', 'unpack-nix-module-trees.sh');
  const res = await run('bash', [script], { timeoutMs: 120_000 });
  if (res.code === 0) return { path: res.stdout.trim(), skip: false };
  const why = res.stderr.trim().split('\n').pop() ?? `exit ${res.code}`;
  if (res.code !== 3) throw new Error(`${script} failed: ${why}`);
  const skip = `Nix module trees not available: ${why}`;
  if (env['CI'] === 'true') throw new Error(`${skip} (but CI=true: scripts/test.sh must provide them)`);
  return { path: undefined, skip };
}

/**
 * The trees: `$DROVER_NIX_MODULE_TREES` if set (it must hold all three), else
 * unpacked now by scripts/unpack-nix-module-trees.sh; a missing tarball is a
 * skip, except with CI=true, where it throws. Looked up once per process.
 */
export function nixModuleTrees(env: NodeJS.ProcessEnv = process.env): Promise<NixModuleTrees> {
  found ??= locate(env);
  return found;
}
