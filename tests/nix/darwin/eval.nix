# Evaluates Drover's nix-darwin module (nix/modules/darwin/agent.nix) inside
# nix-darwin's real module set (eval-config.nix of the unpacked tree) with a
# stand-in pkgs, and returns each drover launchd daemon's serviceConfig and
# the plist text nix-darwin writes, plus failed assertions.
#   nix-instantiate --eval --strict --json --read-write-mode tests/nix/darwin/eval.nix \
#     --arg trees /path/to/unpacked/trees --arg config ./config.nix
{
  trees,
  config,
  system ? "aarch64-darwin",
}:
let
  nixpkgsPath = trees + "/nixpkgs-lib";
  lib = import (nixpkgsPath + "/lib");
  pkgs = import ../stub-pkgs.nix { inherit lib system nixpkgsPath; };
  eval = import (trees + "/nix-darwin/eval-config.nix") {
    inherit lib;
    modules = [
      ../../../nix/modules/darwin/agent.nix
      config
      {
        _module.args.pkgs = lib.mkForce pkgs;
        nixpkgs.hostPlatform = system;
        system.stateVersion = 6;
      }
    ];
  };
  cfg = eval.config;
  failed = map (a: a.message) (lib.filter (a: !a.assertion) cfg.assertions);
  daemons = lib.filterAttrs (n: _: lib.hasPrefix "drover-agent" n) cfg.launchd.daemons;
in
{
  failedAssertions = failed;
  daemons = lib.mapAttrs (
    _: d:
    let
      label = d.serviceConfig.Label;
    in
    {
      inherit label;
      serviceConfig = lib.filterAttrs (_: v: v != null) d.serviceConfig;
      plist = cfg.environment.launchDaemons."${label}.plist".text;
    }
  ) daemons;
}
