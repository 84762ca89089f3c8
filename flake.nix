# Drover as a flake: packages for Linux and Darwin, the NixOS / nix-darwin /
# Home Manager modules, and `lib` (mkDeploySpec, writeDeploySpec).
# See docs/nix-packaging.md; non-flake users have default.nix.
{
  description = "Drover: self-hosted continuous deployment of Nix profiles to fleets of machines";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { nixpkgs, ... }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
    in
    {
      packages = nixpkgs.lib.genAttrs systems (system: import ./nix/packages.nix { pkgs = nixpkgs.legacyPackages.${system}; });

      nixosModules = {
        agent = ./nix/modules/nixos/agent.nix;
        server = ./nix/modules/nixos/server.nix;
      };
      darwinModules.agent = ./nix/modules/darwin/agent.nix;
      homeManagerModules.agent = ./nix/modules/home-manager/agent.nix;

      lib = import ./nix/lib.nix { inherit (nixpkgs) lib; };
    };
}
