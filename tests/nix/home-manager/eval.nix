# Evaluates Drover's Home Manager module (nix/modules/home-manager/agent.nix)
# inside Home Manager's real module set (the unpacked tree) with a stand-in
# pkgs, for Linux or Darwin, and returns what the tests look at: the systemd
# user unit files' text (Linux), the launchd agents' plists (Darwin), failed
# assertions.
#   nix-instantiate --eval --strict --json --read-write-mode tests/nix/home-manager/eval.nix \
#     --arg trees /path/to/unpacked/trees --arg config ./config.nix [--argstr system aarch64-darwin]
{
  trees,
  config,
  system ? "x86_64-linux",
}:
let
  nixpkgsPath = trees + "/nixpkgs-lib";
  hmPath = trees + "/home-manager";
  lib = import (hmPath + "/modules/lib/stdlib-extended.nix") (import (nixpkgsPath + "/lib"));
  pkgs = import ../stub-pkgs.nix { inherit lib system nixpkgsPath; };
  hmModules = import (hmPath + "/modules/modules.nix") {
    inherit pkgs lib;
    check = true;
    useNixpkgsModule = false;
  };
  eval = lib.evalModules {
    modules = [
      ../../../nix/modules/home-manager/agent.nix
      config
      {
        home.username = "alice";
        home.homeDirectory = if pkgs.stdenv.hostPlatform.isDarwin then "/Users/alice" else "/home/alice";
        home.stateVersion = "25.05";
      }
    ]
    ++ hmModules;
    class = "homeManager";
    specialArgs.modulesPath = hmPath + "/modules";
  };
  cfg = eval.config;
  failed = map (a: a.message) (lib.filter (a: !a.assertion) cfg.assertions);
  droverUnits = lib.filterAttrs (n: _: lib.hasPrefix "systemd/user/drover-agent" n) cfg.xdg.configFile;
  # (Home Manager writes each unit with a destination: see ../stub-pkgs.nix.)
  readUnit = n: f: builtins.readFile (lib.removeSuffix "/${baseNameOf n}" (toString f.source));
  droverAgents = lib.filterAttrs (n: _: lib.hasPrefix "drover-agent" n) cfg.launchd.agents;
  # Home Manager's LaunchAgents directory is a runCommand linking each plist;
  # the stub's runCommand output is that command (../stub-pkgs.nix).
  matches = re: text: lib.filter builtins.isList (builtins.split re text);
  linked = matches ''ln -s "([^"]+)" [$]out/LaunchAgents[[:space:]]'' cfg.home.extraBuilderCommands;
  links = lib.concatMap (m: matches "[[]'([^']+)'[]]='([^']+)'" (builtins.readFile (builtins.head m))) linked;
  launchAgentPlists = lib.listToAttrs (map (l: lib.nameValuePair (builtins.elemAt l 0) (builtins.readFile (builtins.elemAt l 1))) links);
in
{
  failedAssertions = failed;
  units = lib.mapAttrs' (n: f: lib.nameValuePair (lib.removePrefix "systemd/user/" n) (readUnit n f)) droverUnits;
  launchdAgents = lib.mapAttrs (_: a: {
    inherit (a) domain;
    config = lib.filterAttrs (_: v: v != null) a.config;
  }) droverAgents;
  # The plists Home Manager links into ~/Library/LaunchAgents, by file name.
  plists = lib.filterAttrs (n: _: lib.hasPrefix "org.nix-community.home.drover-agent" n) launchAgentPlists;
}
