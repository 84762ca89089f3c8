# The packages of flake.nix (packages.<system>) and default.nix, for one
# nixpkgs: drover (everything), drover-agent (the agent alone), default.
{
  pkgs,
  npmRegistry ? "https://registry.npmjs.org",
}:
let
  drover = pkgs.callPackage ./package.nix { inherit npmRegistry; };
in
{
  inherit drover;
  drover-agent = pkgs.callPackage ./agent-package.nix {
    inherit npmRegistry;
    droverPackage = drover;
  };
  default = drover;
}
