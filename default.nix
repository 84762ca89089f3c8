# Drover for non-flake users:
#   nix-build -A drover            (or -A drover-agent)
#   imports = [ (import ./drover { }).nixosModules.agent ];
# `npmRegistry` is the npm registry the dependency tarballs are fetched from
# (see docs/nix-packaging.md).
{
  pkgs ? import <nixpkgs> { },
  npmRegistry ? "https://registry.npmjs.org",
}:
import ./nix/packages.nix { inherit pkgs npmRegistry; }
// {
  lib = import ./nix/lib.nix { inherit (pkgs) lib; };
  nixosModules = {
    agent = ./nix/modules/nixos/agent.nix;
    server = ./nix/modules/nixos/server.nix;
  };
  darwinModules.agent = ./nix/modules/darwin/agent.nix;
  homeManagerModules.agent = ./nix/modules/home-manager/agent.nix;
}
