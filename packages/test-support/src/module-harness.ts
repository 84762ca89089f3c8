/**
 * Runs the module evaluations in tests/nix (Drover's modules inside the
 * NixOS option stub, nix-darwin's or Home Manager's real module set) with
 * nix-instantiate over the unpacked trees, and writes test values as Nix.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nixModuleTrees } from './nix-module-trees.js';
import { repoRoot } from './repo-root.js';
import { runOk } from './run.js';

/** The evaluations in tests/nix: Drover's modules inside NixOS' option stub, nix-darwin's or Home Manager's real module set. */
export type ModuleHarness = 'nixos' | 'darwin' | 'home-manager';

/**
 * Evaluates a configuration module (Nix source text, a function of
 * `{ pkgs, lib, ... }`; `pkgs.fakePackage NAME ATTRS` makes a package) with
 * Drover's modules in `harness` (tests/nix/HARNESS/eval.nix, whose comment
 * says what it returns); `args` are more `--argstr` pairs. Needs the Nix
 * module trees; a configuration that does not evaluate throws Nix's error.
 */
export async function evalModuleHarness(harness: ModuleHarness, moduleText: string, args: Readonly<Record<string, string>> = {}): Promise<unknown> {
  const trees = await nixModuleTrees();
  if (trees.path === undefined) throw new Error(trees.skip);
  const dir = await mkdtemp(join(tmpdir(), `drover-${harness}-eval-`));
  try {
    const config = join(dir, 'config.nix');
    await writeFile(config, moduleText);
    const file = join(repoRoot(), 'tests', 'nix', harness, 'eval.nix');
    const argv = ['--eval', '--strict', '--json', '--read-write-mode', file, '--arg', 'trees', trees.path, '--arg', 'config', config];
    for (const [name, value] of Object.entries(args)) argv.push('--argstr', name, value);
    const res = await runOk('nix-instantiate', argv, { timeoutMs: 120_000 });
    return JSON.parse(res.stdout) as unknown;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A Nix string literal of `value` (JSON's escapes of `"`, `\\`, newline, tab and CR are Nix's; `${` is escaped). */
export function nixString(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(value)) throw new Error(`cannot write a control character in a Nix string: ${JSON.stringify(value)}`);
  return JSON.stringify(value).replaceAll('${', '\\${');
}

/** `value` (strings, numbers, booleans, arrays, objects; undefined fields left out) as a Nix expression. */
export function nixValue(value: unknown): string {
  if (typeof value === 'string') return nixString(value);
  if (Array.isArray(value)) return `[ ${value.map(nixValue).join(' ')} ]`;
  if (value !== null && typeof value === 'object') {
    const fields = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{ ${fields.map(([k, v]) => `${nixString(k)} = ${nixValue(v)};`).join(' ')} }`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`cannot write ${typeof value} as Nix`);
}
