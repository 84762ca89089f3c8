# A stand-in `pkgs` for evaluating Drover's modules without nixpkgs (which
# these machines do not have): every package is a fake derivation with a
# fixed store path, and the text writers are built on builtins.toFile so
# that a test can read the generated text back (needs
# `nix-instantiate --eval --strict --read-write-mode`).
#   lib: nixpkgs' lib; system: e.g. "x86_64-linux";
#   outPaths: { NAME = "/some/prefix"; } replaces a fake package's store path
#   (e.g. the real systemd test points `systemd` and `nix` at /usr).
{
  lib,
  system,
  nixpkgsPath,
  outPaths ? { },
}:
let
  fakeHash = name: builtins.substring 0 32 (builtins.hashString "sha256" name);

  fakePackage =
    name: attrs:
    let
      self = {
        type = "derivation";
        inherit name;
        pname = name;
        version = "0";
        outPath = outPaths.${name} or "${builtins.storeDir}/${fakeHash name}-${name}";
        drvPath = "${builtins.storeDir}/${fakeHash "drv-${name}"}-${name}.drv";
        outputs = [ "out" ];
        outputName = "out";
        out = self;
        meta = {
          mainProgram = name;
        };
        passthru = { };
        override = _: self;
        overrideAttrs = _: self;
        inherit system;
      }
      // attrs;
    in
    self;

  # A flat TOML file (what Drover's server reads): key = value, strings quoted.
  toTOML =
    value:
    lib.concatStrings (
      lib.mapAttrsToList (
        k: v:
        if builtins.isAttrs v || builtins.isList v then
          throw "stub formats.toml: only flat tables (key ${k})"
        else
          "${k} = ${if builtins.isBool v then lib.boolToString v else builtins.toJSON v}\n"
      ) value
    );

  writeTextFile =
    {
      name,
      text,
      executable ? false,
      destination ? "",
      ...
    }:
    let
      file = builtins.toFile name text;
    in
    if destination == "" then file else throw "stub writeTextFile: destination is not supported";

  packageNames = [
    "bash"
    "cacert"
    "coreutils"
    "darwin"
    "dbus"
    "findutils"
    "gnugrep"
    "gnused"
    "nix"
    "postgresql"
    "systemd"
    "util-linux"
    "xdg-utils"
  ];
in
lib.genAttrs packageNames (n: fakePackage n { })
// {
  inherit lib fakePackage;
  path = nixpkgsPath;
  stdenv = {
    hostPlatform = lib.systems.elaborate system;
    buildPlatform = lib.systems.elaborate system;
    isLinux = (lib.systems.elaborate system).isLinux;
    isDarwin = (lib.systems.elaborate system).isDarwin;
    shell = "/bin/sh";
  };
  stdenvNoCC = { };
  buildPackages = { };
  callPackage = file: args: throw "stub pkgs.callPackage ${toString file}: pass the package explicitly in tests";
  formats = {
    toml =
      { }:
      {
        type = lib.types.attrsOf (
          lib.types.oneOf [
            lib.types.str
            lib.types.int
            lib.types.bool
          ]
        );
        generate = name: value: builtins.toFile name (toTOML value);
      };
    json =
      { }:
      {
        type = lib.types.attrsOf lib.types.anything;
        generate = name: value: builtins.toFile name (builtins.toJSON value);
      };
  };
  inherit writeTextFile;
  writeText = name: text: writeTextFile { inherit name text; };
  writeTextDir = name: text: throw "stub writeTextDir";
  writeScript = name: text: writeTextFile { inherit name text; };
  writeShellScript =
    name: text:
    writeTextFile {
      inherit name;
      text = "#!/bin/sh\n${text}";
    };
  writeShellScriptBin = name: text: throw "stub writeShellScriptBin";
  runCommand = name: env: cmd: fakePackage name { };
  runCommandLocal = name: env: cmd: fakePackage name { };
  symlinkJoin = { name, ... }: fakePackage name { };
  buildEnv = { name, ... }: fakePackage name { };
}
