# A stand-in `pkgs` for evaluating Drover's modules without nixpkgs (which
# these machines do not have): every package is a fake derivation with a
# fixed store path, and the text writers are built on builtins.toFile so
# that a test can read the generated text back (needs
# `nix-instantiate --eval --strict --read-write-mode`; see writeTextFile for
# files written with a destination).
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
    # With a destination, the file itself stands for the directory that
    # would hold it: a reader strips the destination to read the text.
    builtins.toFile (if destination == "" then name else baseNameOf destination) text;

  packageNames = [
    "glibcLocales"
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
  # toml: flat tables written as TOML (what Drover's server reads); every
  # other format (Home Manager's modules declare options with many) takes
  # anything and is written as JSON.
  formats =
    lib.genAttrs [
      "ini"
      "iniWithGlobalSection"
      "gitIni"
      "json"
      "yaml"
      "yaml_1_1"
      "yaml_1_2"
      "keyValue"
      "xml"
      "lua"
      "nixConf"
      "elixirConf"
      "hocon"
      "php"
      "javaProperties"
      "libconfig"
      "pythonVars"
      "cdn"
      "plist"
      "kdl"
      "systemd"
      "pkl"
      "hcl"
      "kdl"
    ] (
      n: _: {
        type = lib.types.anything;
        generate = name: value: builtins.toFile name (builtins.toJSON value);
        lib = {
          types.atom = lib.types.anything;
          mkKeyValueDefault = _: _: "";
        };
      }
    )
    // {
      toml = _: {
        type = lib.types.attrsOf (
          lib.types.oneOf [
            lib.types.str
            lib.types.int
            lib.types.bool
          ]
        );
        generate = name: value: builtins.toFile name (toTOML value);
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
  # The "output" of runCommand is its script, so that a test can follow the
  # store paths it links (Home Manager's LaunchAgents directory).
  runCommand = name: env: cmd: fakePackage name { outPath = builtins.toFile name cmd; };
  runCommandLocal = name: env: cmd: fakePackage name { };
  symlinkJoin = { name, ... }: fakePackage name { };
  buildEnv = { name, ... }: fakePackage name { };
}
