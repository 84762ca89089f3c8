# The few NixOS options Drover's NixOS modules set, declared the way nixpkgs
# declares them (nixos/lib/systemd-unit-options.nix, nixos/modules/system/
# boot/systemd.nix, …) but without their implementation: enough for
# lib.evalModules to type-check our modules and for ./render-unit.nix to
# write the unit files. nixpkgs itself cannot be brought to these machines.
# (`assertions` and `warnings` are nixpkgs' own: ./eval.nix imports them.)
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption types;

  unitValue = types.oneOf [
    types.bool
    types.int
    types.str
    types.path
    types.package
  ];
  # systemd's [Unit]/[Service] keys: a value, or a list (one line each).
  unitSection = types.attrsOf (types.either unitValue (types.listOf unitValue));

  unitNames = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };

  serviceModule =
    { config, ... }:
    {
      options = {
        enable = mkOption {
          type = types.bool;
          default = true;
        };
        description = mkOption {
          type = types.singleLineStr;
          default = "";
        };
        documentation = unitNames;
        after = unitNames;
        before = unitNames;
        wants = unitNames;
        requires = unitNames;
        bindsTo = unitNames;
        partOf = unitNames;
        conflicts = unitNames;
        wantedBy = unitNames;
        requiredBy = unitNames;
        upheldBy = unitNames;
        path = mkOption {
          type = types.listOf (types.either types.package types.str);
          default = [ ];
        };
        environment = mkOption {
          type = types.attrsOf (
            types.nullOr (
              types.oneOf [
                types.str
                types.path
                types.package
              ]
            )
          );
          default = { };
        };
        unitConfig = mkOption {
          type = unitSection;
          default = { };
        };
        serviceConfig = mkOption {
          type = unitSection;
          default = { };
        };
        script = mkOption {
          type = types.lines;
          default = "";
        };
        preStart = mkOption {
          type = types.lines;
          default = "";
        };
        restartIfChanged = mkOption {
          type = types.bool;
          default = true;
        };
        reloadIfChanged = mkOption {
          type = types.bool;
          default = false;
        };
        stopIfChanged = mkOption {
          type = types.bool;
          default = true;
        };
        restartTriggers = mkOption {
          type = types.listOf types.unspecified;
          default = [ ];
        };
        startAt = mkOption {
          type = types.either types.str (types.listOf types.str);
          default = [ ];
        };
      };
      # As nixos/modules/system/boot/systemd.nix: every service gets the
      # basic tools after its own path, and PATH from it.
      config = {
        path = lib.mkAfter [
          pkgs.coreutils
          pkgs.findutils
          pkgs.gnugrep
          pkgs.gnused
          pkgs.systemd
        ];
        environment.PATH = "${lib.makeBinPath config.path}:${lib.makeSearchPathOutput "bin" "sbin" config.path}";
      };
    };

  userModule = {
    options = {
      isSystemUser = mkOption {
        type = types.bool;
        default = false;
      };
      group = mkOption {
        type = types.str;
        default = "";
      };
      home = mkOption {
        type = types.str;
        default = "/var/empty";
      };
      createHome = mkOption {
        type = types.bool;
        default = false;
      };
      description = mkOption {
        type = types.str;
        default = "";
      };
    };
  };

  postgresUserModule = {
    options = {
      name = mkOption { type = types.str; };
      ensureDBOwnership = mkOption {
        type = types.bool;
        default = false;
      };
      ensureClauses = mkOption {
        type = types.attrsOf types.unspecified;
        default = { };
      };
    };
  };
in
{
  options = {
    systemd.services = mkOption {
      type = types.attrsOf (types.submodule serviceModule);
      default = { };
    };
    systemd.tmpfiles.rules = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    networking.hostName = mkOption {
      type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$";
      default = "nixos";
    };
    networking.firewall.allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
    };
    nix.package = mkOption {
      type = types.package;
      default = pkgs.nix;
    };
    users.users = mkOption {
      type = types.attrsOf (types.submodule userModule);
      default = { };
    };
    users.groups = mkOption {
      type = types.attrsOf (types.submodule { });
      default = { };
    };
    services.postgresql = {
      enable = mkOption {
        type = types.bool;
        default = false;
      };
      ensureDatabases = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      ensureUsers = mkOption {
        type = types.listOf (types.submodule postgresUserModule);
        default = [ ];
      };
    };
    system.extraSystemBuilderCmds = mkOption {
      type = types.lines;
      default = "";
    };
  };
}
