/**
 * The unit files Drover's NixOS agent module (nix/modules/nixos/agent.nix)
 * yields, written from an evaluation over the NixOS option stub in
 * tests/nix/nixos (nix-instantiate over nixpkgs' real lib): the exact text
 * the module tests assert on and the real-systemd tests boot.
 */
import { evalModuleHarness, nixString, nixValue } from './module-harness.js';

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

/** {@link evalModuleHarness} over the NixOS option stub; `outPaths` as in {@link NixosAgentUnitOptions.packages}. */
export async function evalNixosConfig(moduleText: string, outPaths: Readonly<Record<string, string>> = {}): Promise<NixosEvaluation> {
  return (await evalModuleHarness('nixos', moduleText, { outPathsJson: JSON.stringify(outPaths) })) as NixosEvaluation;
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
