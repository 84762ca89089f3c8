# NixOS module `services.drover-server` (flake: nixosModules.server): the
# Drover server (control plane, web UI, binary cache) as a system service
# reading a TOML file generated from `settings`, with its PostgreSQL
# database created on this machine when asked (`database.createLocally`,
# peer authentication over the unix socket). Without a database URL the
# server keeps SQLite in `dataDir`.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;
  cfg = config.services.drover-server;
  toml = pkgs.formats.toml { };

  # The database user and name created locally; the server runs as this user
  # so that PostgreSQL's peer authentication lets it in without a password.
  dbName = "drover";
  localDatabaseUrl = "postgres://${dbName}@/${dbName}?host=/run/postgresql";

  databaseUrl = if cfg.database.createLocally then localDatabaseUrl else cfg.databaseUrl;

  # The port of `listen` (HOST:PORT or [V6]:PORT), for openFirewall.
  listenPort =
    let
      m = builtins.match ".*:([0-9]+)" cfg.listen;
    in
    if m == null then null else lib.toInt (builtins.head m);

  configFile = toml.generate "drover-server.toml" cfg.settings;

  dataDirUnderVarLib = lib.hasPrefix "/var/lib/" cfg.dataDir;
in
{
  options.services.drover-server = {
    enable = lib.mkEnableOption "the Drover server";
    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ../../package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage <drover>/nix/package.nix { }";
      description = "The Drover package (the whole CLI: `packages.\${system}.drover` of the flake).";
    };
    listen = mkOption {
      type = types.str;
      default = "127.0.0.1:7700";
      example = "0.0.0.0:7700";
      description = "HOST:PORT the server listens on (TOML key `listen`).";
    };
    dataDir = mkOption {
      type = types.str;
      default = "/var/lib/drover";
      description = "The server's data directory: the SQLite database (without a database URL) and the built-in binary cache's NARs (without S3).";
    };
    databaseUrl = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "postgres://drover@db.example.com/drover";
      description = ''
        PostgreSQL URL (`postgres://…`); null keeps SQLite in `dataDir`. It lands in the
        world-readable Nix store: put a URL with a password in `environmentFile` as
        `DROVER_DATABASE_URL=…` instead.
      '';
    };
    database.createLocally = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Create the database `drover` owned by the user `drover` in this machine's
        PostgreSQL (`services.postgresql`) and connect over its unix socket with peer
        authentication (no password).
      '';
    };
    workers = mkOption {
      type = types.ints.between 1 64;
      default = 1;
      description = "Server processes sharing the port (TOML key `workers`); more than 1 needs PostgreSQL.";
    };
    environmentFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/run/secrets/drover-server.env";
      description = ''
        A file of `NAME=value` lines for the server's environment, kept out of the store:
        the S3 credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), a
        `DROVER_DATABASE_URL` with a password, any other `DROVER_*` setting.
      '';
    };
    settings = mkOption {
      type = types.submodule { freeformType = toml.type; };
      default = { };
      example = lib.literalExpression ''
        {
          public_url = "https://deploy.example.com";
          cache_s3_bucket = "drover-nars";
          cache_gc_interval = 86400;
        }
      '';
      description = ''
        Keys of the server's TOML file (README: "Binary cache", "Limits"); `listen`,
        `data_dir`, `workers` and `database_url` come from the options above.
        Unknown keys make the server refuse to start, naming them.
      '';
    };
    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open the port of `listen` in the firewall.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = !(cfg.database.createLocally && cfg.databaseUrl != null);
        message = "services.drover-server: database.createLocally makes its own database URL; leave databaseUrl unset (null).";
      }
      {
        assertion = cfg.workers == 1 || databaseUrl != null || cfg.environmentFile != null;
        message = "services.drover-server: workers = ${toString cfg.workers} needs PostgreSQL (databaseUrl, database.createLocally, or DROVER_DATABASE_URL in environmentFile); SQLite serves one process.";
      }
      {
        assertion = !cfg.openFirewall || listenPort != null;
        message = "services.drover-server: openFirewall needs a port in listen (HOST:PORT), got ${builtins.toJSON cfg.listen}.";
      }
      {
        assertion = lib.hasPrefix "/" cfg.dataDir;
        message = "services.drover-server: dataDir must be an absolute path, got ${builtins.toJSON cfg.dataDir}.";
      }
    ];

    services.drover-server.settings = {
      listen = lib.mkDefault cfg.listen;
      data_dir = lib.mkDefault cfg.dataDir;
      workers = lib.mkDefault cfg.workers;
    }
    // lib.optionalAttrs (databaseUrl != null) { database_url = lib.mkDefault databaseUrl; };

    services.postgresql = lib.mkIf cfg.database.createLocally {
      enable = true;
      ensureDatabases = [ dbName ];
      ensureUsers = [
        {
          name = dbName;
          ensureDBOwnership = true;
        }
      ];
    };

    users.users.drover = {
      isSystemUser = true;
      group = "drover";
      home = cfg.dataDir;
      description = "Drover server";
    };
    users.groups.drover = { };

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [ listenPort ];

    # StateDirectory= makes a dataDir under /var/lib; anywhere else, tmpfiles does.
    systemd.tmpfiles.rules = lib.mkIf (!dataDirUnderVarLib) [ "d ${cfg.dataDir} 0700 drover drover - -" ];

    systemd.services.drover-server = {
      description = "Drover server";
      after = [ "network.target" ] ++ lib.optional cfg.database.createLocally "postgresql.service";
      requires = lib.optional cfg.database.createLocally "postgresql.service";
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        ExecStart = "${lib.getExe cfg.package} server --config ${configFile}";
        User = "drover";
        Group = "drover";
        Restart = "on-failure";
        RestartSec = 2;
        WorkingDirectory = cfg.dataDir;
        UMask = "0077";
        NoNewPrivileges = true;
        PrivateTmp = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        ReadWritePaths = [ cfg.dataDir ];
      }
      // lib.optionalAttrs dataDirUnderVarLib {
        StateDirectory = lib.removePrefix "/var/lib/" cfg.dataDir;
        StateDirectoryMode = "0700";
      }
      // lib.optionalAttrs (cfg.environmentFile != null) { EnvironmentFile = cfg.environmentFile; };
    };
  };
}
