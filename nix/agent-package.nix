# The agent only: the single-file agent (packages/cli/dist/drover-agent.mjs,
# made by `npm run build` with esbuild: no node_modules, no native addons)
# plus Node. Its program is `drover` too and answers only `drover agent …`,
# so a service's `${lib.getExe cfg.package} agent NAME …` works with either
# package. The file is taken from the full package's build; the closure is
# the file, Node and the wrapper (disallowedReferences keeps the full package
# out of it).
{
  lib,
  stdenvNoCC,
  callPackage,
  makeWrapper,
  nodejs,
  npmRegistry ? "https://registry.npmjs.org",
  droverPackage ? callPackage ./package.nix { inherit nodejs npmRegistry; },
}:
stdenvNoCC.mkDerivation {
  pname = "drover-agent";
  inherit (droverPackage) version;

  dontUnpack = true;
  nativeBuildInputs = [ makeWrapper ];

  installPhase = ''
    runHook preInstall
    install -Dm444 ${droverPackage}/${droverPackage.agentBundle} $out/lib/drover-agent/drover-agent.mjs
    makeWrapper ${lib.getExe nodejs} $out/bin/drover --add-flags $out/lib/drover-agent/drover-agent.mjs
    runHook postInstall
  '';

  disallowedReferences = [ droverPackage ];

  meta = {
    description = "The Drover agent alone (one JavaScript file and Node): keeps a machine's Nix profile deployed";
    license = lib.licenses.mit;
    mainProgram = "drover";
    platforms = lib.platforms.linux ++ lib.platforms.darwin;
  };
}
