/**
 * The unit files Drover's NixOS agent module (nix/modules/nixos/agent.nix)
 * yields, written from an evaluation over the NixOS option stub in
 * tests/nix/nixos (nix-instantiate over nixpkgs' real lib): the exact text
 * the module tests assert on and the real-systemd tests boot.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nixModuleTrees } from './nix-module-trees.js';
import { repoRoot } from './repo-root.js';
import { runOk } from './run.js';

/** A stand-in for the Drover package: its program is `${path}/bin/${mainProgram}`. */
export interface PackageStandIn {
  readonly path: string;
  readonly mainProgram: string;
}

export interface NixosAgentInstance {
  readonly name?: string;
  readonly profile: string;
  readonly tokenFile: string;
  readonly server?: string;
  readonly extraArgs?: readonly string[];
}

export interface NixosAgentUnitOptions {
  readonly server: string;
  readonly tokenFile: string;
  readonly package: PackageStandIn;
  /** Defaults to the host name (`hostName`, "nixos" when absent), as the module does. */
  readonly name?: string;
  readonly profile?: string;
  readonly extraArgs?: readonly string[];
  readonly instances?: Readonly<Record<string, NixosAgentInstance>>;
  /** networking.hostName. */
  readonly hostName?: string;
  /**
   * Where the packages in the unit's PATH are, by nixpkgs attribute name
   * (`nix`, `systemd`, `coreutils`, `findutils`, `gnugrep`, `gnused`): e.g.
   * `{ nix: '/usr', systemd: '/usr' }` on Debian. Absent ones get fake store paths.
   */
  readonly packages?: Readonly<Record<string, string>>;
}

export interface RenderedUnit {
  /** e.g. `drover-agent.service`, `drover-agent-app.service`. */
  readonly unitName: string;
  /** The unit file's text. */
  readonly text: string;
  /** Targets that want the unit (NixOS links it into their .wants). */
  readonly wantedBy: readonly string[];
}

/** What tests/nix/nixos/eval.nix returns (the parts read here). */
export interface NixosEvaluation {
  readonly failedAssertions: readonly string[];
  readonly units: Readonly<Record<string, { readonly text: string; readonly wantedBy: readonly string[] }>>;
  readonly firewallPorts: readonly number[];
  readonly postgresql: {
    readonly enable: boolean;
    readonly ensureDatabases: readonly string[];
    readonly ensureUsers: readonly { readonly name: string; readonly ensureDBOwnership: boolean }[];
  };
  readonly users: Readonly<Record<string, { readonly isSystemUser: boolean; readonly group: string }>>;
  readonly extraSystemBuilderCmds: string;
}

async function treesPath(): Promise<string> {
  const trees = await nixModuleTrees();
  if (trees.path === undefined) throw new Error(trees.skip);
  return trees.path;
}

/**
 * Evaluates a NixOS configuration module (Nix source text, a function of
 * `{ pkgs, lib, ... }`; `pkgs.fakePackage NAME ATTRS` makes a package) with
 * Drover's NixOS modules over the option stub. Needs the Nix module trees.
 */
export async function evalNixosConfig(moduleText: string, outPaths: Readonly<Record<string, string>> = {}): Promise<NixosEvaluation> {
  const trees = await treesPath();
  const dir = await mkdtemp(join(tmpdir(), 'drover-nixos-eval-'));
  try {
    const config = join(dir, 'config.nix');
    await writeFile(config, moduleText);
    const args = [
      '--eval',
      '--strict',
      '--json',
      '--read-write-mode',
      join(repoRoot(), 'tests', 'nix', 'nixos', 'eval.nix'),
      '--arg',
      'trees',
      trees,
      '--arg',
      'config',
      config,
      '--argstr',
      'outPathsJson',
      JSON.stringify(outPaths),
    ];
    const res = await runOk('nix-instantiate', args, { timeoutMs: 120_000 });
    return JSON.parse(res.stdout) as NixosEvaluation;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A Nix string literal of `value` (JSON's escapes of `"`, `\\`, newline, tab and CR are Nix's; `${` is escaped). */
function nixString(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(value)) throw new Error(`cannot write a control character in a Nix string: ${JSON.stringify(value)}`);
  return JSON.stringify(value).replaceAll('${', '\\${');
}

function nixValue(value: unknown): string {
  if (typeof value === 'string') return nixString(value);
  if (Array.isArray(value)) return `[ ${value.map(nixValue).join(' ')} ]`;
  if (value !== null && typeof value === 'object') {
    const fields = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{ ${fields.map(([k, v]) => `${nixString(k)} = ${nixValue(v)};`).join(' ')} }`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`cannot write ${typeof value} as Nix`);
}

/**
 * The unit files of `services.drover-agent` with these settings (one per
 * agent: the main one and each instance), exactly as the NixOS module yields
 * them. A configuration the module rejects throws with its assertion messages.
 */
export async function renderNixosAgentUnit(opts: NixosAgentUnitOptions): Promise<RenderedUnit[]> {
  const agent = {
    enable: true,
    server: opts.server,
    tokenFile: opts.tokenFile,
    name: opts.name,
    profile: opts.profile,
    extraArgs: opts.extraArgs,
    instances: opts.instances,
  };
  const pkg = `pkgs.fakePackage "drover" { outPath = ${nixString(opts.package.path)}; meta.mainProgram = ${nixString(opts.package.mainProgram)}; }`;
  const moduleText = [
    '{ pkgs, lib, ... }: {',
    opts.hostName === undefined ? '' : `  networking.hostName = ${nixString(opts.hostName)};`,
    `  services.drover-agent = ${nixValue(agent)} // { package = ${pkg}; };`,
    '}',
  ].join('\n');
  const evaluation = await evalNixosConfig(moduleText, opts.packages);
  if (evaluation.failedAssertions.length > 0) throw new Error(`services.drover-agent rejected:\n${evaluation.failedAssertions.join('\n')}`);
  return Object.entries(evaluation.units).map(([unitName, unit]) => ({ unitName, text: unit.text, wantedBy: unit.wantedBy }));
}
