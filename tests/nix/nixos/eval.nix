# Evaluates Drover's NixOS modules (nix/modules/nixos) over the option stub
# ./options.nix with lib.evalModules from nixpkgs' lib, and returns what the
# tests look at: each enabled unit's file text, the assertions that failed,
# the firewall ports, PostgreSQL and user settings, extraSystemBuilderCmds.
#   nix-instantiate --eval --strict --json --read-write-mode tests/nix/nixos/eval.nix \
#     --arg trees /path/to/unpacked/trees --arg config ./config.nix [--argstr outPathsJson '{"nix":"/usr"}']
# trees: the directory holding nixpkgs-lib/ (scripts/unpack-nix-module-trees.sh);
# config: a module `{ pkgs, lib, ... }: { … }`; pkgs.fakePackage NAME ATTRS makes a package;
# outPathsJson: JSON of the stub packages' `outPaths` (../stub-pkgs.nix).
{
  trees,
  config,
  outPathsJson ? "{}",
  system ? "x86_64-linux",
}:
let
  nixpkgsPath = trees + "/nixpkgs-lib";
  lib = import (nixpkgsPath + "/lib");
  pkgs = import ../stub-pkgs.nix {
    inherit lib system nixpkgsPath;
    outPaths = builtins.fromJSON outPathsJson;
  };
  repo = ../../..;
  eval = lib.evalModules {
    modules = [
      ./options.nix
      # nixpkgs' own assertions/warnings options (in the nixpkgs-lib tree).
      (nixpkgsPath + "/nixos/modules/misc/assertions.nix")
      (repo + "/nix/modules/nixos/agent.nix")
      (repo + "/nix/modules/nixos/server.nix")
      config
      { _module.args.pkgs = pkgs; }
    ];
  };
  cfg = eval.config;
  failed = map (a: a.message) (lib.filter (a: !a.assertion) cfg.assertions);
  renderUnit = import ./render-unit.nix { inherit lib; };
  units = lib.mapAttrs' (
    n: def:
    lib.nameValuePair "${n}.service" {
      text = renderUnit def;
      inherit (def) wantedBy;
    }
  ) (lib.filterAttrs (_: def: def.enable) cfg.systemd.services);
in
{
  failedAssertions = failed;
  # Like NixOS, a failed assertion stops the build: no units then.
  units = if failed == [ ] then units else { };
  firewallPorts = cfg.networking.firewall.allowedTCPPorts;
  postgresql = cfg.services.postgresql;
  users = cfg.users.users;
  groups = lib.attrNames cfg.users.groups;
  extraSystemBuilderCmds = cfg.system.extraSystemBuilderCmds;
}
