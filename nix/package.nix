# The whole drover CLI: server, web UI and agent (`drover server`,
# `drover agent`, …), built with nixpkgs' buildNpmPackage from our
# package-lock.json through importNpmLock: no hand-maintained dependency hash,
# each npm tarball is fetched with the lock's own `integrity`.
#
# Our lock has no `resolved` URLs; ./npm-lock.nix derives them from
# `npmRegistry` (default https://registry.npmjs.org; a mirror with the same
# layout works: `drover.override { npmRegistry = "https://npm.example.com"; }`).
#
# Not built on the machines this project is developed on (they have no
# nixpkgs): see docs/nix-packaging.md for what is and is not checked.
{
  lib,
  buildNpmPackage,
  importNpmLock,
  makeWrapper,
  nodejs,
  npmRegistry ? "https://registry.npmjs.org",
}:
let
  root = ../.;
  manifest = lib.importJSON (root + "/package.json");
  lock = lib.importJSON (root + "/package-lock.json");

  src = lib.cleanSourceWith {
    name = "drover-source";
    src = root;
    filter =
      path: type:
      let
        base = baseNameOf path;
      in
      lib.cleanSourceFilter path type
      && !(builtins.elem base [
        "node_modules"
        "dist"
        "drover-data"
        "test-output"
      ])
      && !(lib.hasSuffix ".tsbuildinfo" base);
  };

  # importNpmLock turns workspace links into copies of the source folders;
  # point them back at the build tree, whose dist/ folders the build fills.
  workspaceLinks = lib.filterAttrs (_: entry: entry.link or false) lock.packages;
  relinkWorkspaces = lib.concatStrings (
    lib.mapAttrsToList (key: entry: ''
      rm -rf ${lib.escapeShellArg key}
      ln -sr ${lib.escapeShellArg entry.resolved} ${lib.escapeShellArg key}
    '') workspaceLinks
  );
  copyWorkspaces = lib.concatMapStrings (dir: ''
    mkdir -p "$dest"/${lib.escapeShellArg dir}
    cp ${lib.escapeShellArg dir}/package.json "$dest"/${lib.escapeShellArg dir}/
    if [ -d ${lib.escapeShellArg dir}/dist ]; then cp -r ${lib.escapeShellArg dir}/dist "$dest"/${lib.escapeShellArg dir}/; fi
  '') manifest.workspaces;
in
assert lib.assertMsg (lib.versionAtLeast nodejs.version "20.19") "drover needs Node.js 20.19 or newer, got ${nodejs.version}: pass nodejs = pkgs.nodejs_22 (or newer)";
buildNpmPackage {
  pname = "drover";
  inherit (manifest) version;
  inherit src nodejs;

  npmDeps = importNpmLock {
    npmRoot = src;
    packageLock = import ./npm-lock.nix {
      packageLock = lock;
      registry = npmRegistry;
    };
  };
  npmConfigHook = importNpmLock.npmConfigHook;

  nativeBuildInputs = [ makeWrapper ];

  # `npm run build`: tsc -b, the web UI (vite), the single-file agent (esbuild).
  preBuild = relinkWorkspaces;

  installPhase = ''
    runHook preInstall
    npm prune --omit=dev --no-save --ignore-scripts
    ${relinkWorkspaces}
    dest=$out/lib/drover
    mkdir -p "$dest"
    # The package.json without importNpmLock's store paths (it is read for the version).
    cp .package.json.orig "$dest/package.json"
    cp -r bin node_modules "$dest/"
    ${copyWorkspaces}
    makeWrapper ${lib.getExe nodejs} $out/bin/drover --add-flags "$dest/bin/drover"
    runHook postInstall
  '';

  passthru = {
    inherit npmRegistry;
    agentBundle = "lib/drover/packages/cli/dist/drover-agent.mjs";
  };

  meta = {
    description = "Self-hosted continuous deployment of Nix profiles to fleets of machines (server, web UI, agent)";
    license = lib.licenses.mit;
    mainProgram = "drover";
    platforms = lib.platforms.linux ++ lib.platforms.darwin;
  };
}
