# What the NixOS, nix-darwin and Home Manager agent modules share: the
# options every agent has (one agent or one of `instances`), the argv of
# `drover agent`, and the escaping of that argv for a systemd ExecStart=.
# Not a module itself: each module imports it with `import ../agent-common.nix { inherit lib; }`.
{ lib }:
let
  inherit (lib) mkOption types;
in
rec {
  # The credential name under which systemd's LoadCredential= hands the agent
  # its token; the agent reads $CREDENTIALS_DIRECTORY/agent-token when it is
  # given no other token source (packages/cli/src/commands/agent.ts).
  credentialName = "agent-token";

  serverOption =
    args:
    mkOption (
      {
        type = types.str;
        example = "https://drover.example.com";
        description = "URL of the Drover server the agent connects out to.";
      }
      // args
    );

  tokenFileOption =
    args:
    mkOption (
      {
        type = types.str;
        example = "/run/secrets/drover-agent-token";
        description = ''
          Absolute path of a file holding the agent token (`drover token create --kind agent`).
          A string, not a Nix path: a Nix path would copy the secret into the world-readable store.
        '';
      }
      // args
    );

  extraArgsOption = mkOption {
    type = types.listOf types.str;
    default = [ ];
    example = [
      "--log-level"
      "debug"
    ];
    description = "More arguments for `drover agent`, each list element one argv word.";
  };

  # `drover agent --identity`: the age identity its secrets are encrypted to.
  identityFileOption = mkOption {
    type = types.nullOr types.str;
    default = null;
    example = "/var/lib/drover-keys/web-1.age";
    description = ''
      Absolute path of the agent's age identity (made there, mode 0600, when missing;
      `age-keygen -o FILE` makes one too); null: `age-identity` in its state directory.
      Keep it across reinstalls, or every secret of the agent must be set again.
      A string outside the Nix store: a Nix path would copy the key into the world-readable store.
    '';
  };

  # Where a secret goes when its declaration names no path (protocol's SECRETS_DIR).
  secretsDir = "/run/drover/secrets";

  # One declared secret, `secrets.<name>`: where the services expect it and
  # how. The agent writes what the server sends (`drover secret set`); the
  # declaration lets services use `config.services.drover-agent.secrets.<name>.path`
  # and lets the agent say in its log what was not set, or set otherwise.
  # `withDefaultPath`: the path defaults to ${secretsDir}/<name> (a root
  # agent; a user's agent cannot write there, so it must name one).
  secretModule =
    { withDefaultPath }:
    { name, ... }:
    {
      options = {
        path = mkOption (
          {
            type = types.str;
            description = "Absolute path of the secret's file; it must match the `--path` it is set with (`drover secret set NAME --path …`).";
          }
          // lib.optionalAttrs withDefaultPath {
            default = "${secretsDir}/${name}";
            defaultText = lib.literalExpression ''"${secretsDir}/<name>"'';
          }
        );
        owner = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "postgres";
          description = "The user the file must belong to (`--owner USER[:GROUP]` when it is set); null: not checked.";
        };
        group = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "postgres";
          description = "The group the file must belong to; null: not checked.";
        };
        mode = mkOption {
          type = types.strMatching "0?[0-7]{3,4}";
          default = "0400";
          description = "The file mode it must be set with (`--mode`, default 0400).";
        };
      };
    };

  secretsOption =
    { withDefaultPath }:
    mkOption {
      type = types.attrsOf (types.submodule (secretModule { inherit withDefaultPath; }));
      default = { };
      example = lib.literalExpression ''
        {
          db = { owner = "postgres"; };
          api-key = { mode = "0440"; group = "web"; };
        }
      '';
      description = ''
        Secrets this agent's machine expects. The values come from the server
        (`drover secret set NAME --agent AGENT …`, encrypted to this agent's key);
        declaring them gives services their paths (`.path`) and makes the agent
        log what was not set, or set with another path, owner, group or mode.
      '';
    };

  # The JSON file of an agent's declared secrets for `--declared-secrets`, or null when it declares none.
  declaredSecretsFile =
    pkgs: agent:
    if agent.secrets == { } then
      null
    else
      pkgs.writeText "drover-agent-${agent.name}-secrets.json" (
        builtins.toJSON {
          secrets = lib.mapAttrs (_: s: {
            inherit (s)
              path
              owner
              group
              mode
              ;
          }) agent.secrets;
        }
      );

  # Assertions about the declared secrets of the agents (names and paths as the server accepts them).
  secretAssertions =
    optionPath: agents:
    lib.concatMap (
      a:
      lib.mapAttrsToList (n: s: {
        assertion = builtins.match "[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}" n != null && builtins.match "/.*" s.path != null && builtins.match "(.*/)?[.][.]?(/.*)?" s.path == null;
        message = "${optionPath}: secret ${builtins.toJSON n} of agent ${a.name} needs a name of 1-64 letters, digits, ., _ or - (not starting with .) and an absolute path without . or .. (got ${builtins.toJSON s.path}).";
      }) a.secrets
    ) agents;

  # The options of one agent besides the global ones: used for `instances.<n>`.
  instanceModule =
    { defaultServer, withDefaultPath }:
    { name, ... }:
    {
      options = {
        name = mkOption {
          type = types.str;
          default = name;
          defaultText = lib.literalExpression "<name>";
          description = "The agent's name on the server (1-64 letters, digits, `-`, `_`, `.`).";
        };
        profile = mkOption {
          type = types.str;
          example = "/nix/var/nix/profiles/per-user/app/app";
          description = "The profile this agent deploys: a name under /nix/var/nix/profiles or an absolute path. One agent per profile.";
        };
        tokenFile = tokenFileOption { };
        server = serverOption {
          default = defaultServer;
          defaultText = lib.literalExpression "config.services.drover-agent.server";
        };
        extraArgs = extraArgsOption;
        identityFile = identityFileOption;
        secrets = secretsOption { inherit withDefaultPath; };
      };
    };

  # The options every agent module declares under services.drover-agent:
  # `server` is the configured one (the instances' default); the name's
  # default and its defaultText (no default without nameDefault); the
  # profile's default; what the instances' unit names look like.
  agentOptions =
    {
      pkgs,
      server,
      what,
      profileDefault,
      profileDescription,
      instanceUnit,
      secretPathDefault ? true,
      ...
    }@args:
    {
      enable = lib.mkEnableOption what;
      package = mkOption {
        type = types.package;
        default = pkgs.callPackage ../agent-package.nix { };
        defaultText = lib.literalExpression "pkgs.callPackage <drover>/nix/agent-package.nix { }";
        description = ''
          The Drover package whose `drover` program runs the agent: the agent-only
          package (`packages.''${system}.drover-agent` of the flake, a small closure) or
          the whole CLI (`packages.''${system}.drover`). Both answer `drover agent`.
        '';
      };
      server = serverOption { };
      name = mkOption (
        {
          type = types.str;
          description = "The agent's name on the server (1-64 letters, digits, `-`, `_`, `.`).";
        }
        // lib.optionalAttrs (args ? nameDefault) {
          default = args.nameDefault;
          defaultText = args.nameDefaultText;
        }
      );
      profile = mkOption {
        type = types.str;
        default = profileDefault;
        description = profileDescription;
      };
      tokenFile = tokenFileOption { };
      extraArgs = extraArgsOption;
      identityFile = identityFileOption;
      secrets = secretsOption { withDefaultPath = secretPathDefault; };
      instances = mkOption {
        type = types.attrsOf (
          types.submodule (instanceModule {
            defaultServer = server;
            withDefaultPath = secretPathDefault;
          })
        );
        default = { };
        example = lib.literalExpression ''
          {
            app = {
              name = "web-1-app";
              profile = "/nix/var/nix/profiles/per-user/app/app";
              tokenFile = "/run/secrets/drover-app-token";
            };
          }
        '';
        description = "More agents, each owning its own profile; `instances.<n>` runs as ${instanceUnit}.";
      };
    };

  # The main agent and the instances of a services.drover-agent config, each
  # with `key`: "drover-agent" for the main one, "drover-agent-<n>" for instance <n>.
  agentsOf =
    cfg:
    [
      {
        key = "drover-agent";
        inherit (cfg)
          name
          profile
          tokenFile
          server
          extraArgs
          identityFile
          secrets
          ;
      }
    ]
    ++ lib.mapAttrsToList (n: inst: {
      key = "drover-agent-${n}";
      inherit (inst)
        name
        profile
        tokenFile
        server
        extraArgs
        identityFile
        secrets
        ;
    }) cfg.instances;

  # The argv of one agent after the program: every flag and every value its own word.
  agentArgs =
    {
      name,
      server,
      profile,
      stateDir ? null,
      tokenFile ? null,
      declaredSecrets ? null,
      identityFile ? null,
      extraArgs ? [ ],
    }:
    [
      "agent"
      name
      "--server"
      server
      "--profile"
      profile
    ]
    ++ lib.optionals (stateDir != null) [
      "--state-dir"
      stateDir
    ]
    ++ lib.optionals (tokenFile != null) [
      "--token-file"
      tokenFile
    ]
    ++ lib.optionals (identityFile != null) [
      "--identity"
      identityFile
    ]
    ++ lib.optionals (declaredSecrets != null) [
      "--declared-secrets"
      "${declaredSecrets}"
    ]
    ++ extraArgs;

  # The whole argv of one agent (from agentsOf): the package's program, then
  # agentArgs; `extra` adds stateDir / tokenFile or overrides a field.
  agentArgv =
    package: agent: extra:
    [ (lib.getExe package) ]
    ++ agentArgs (
      {
        inherit (agent)
          name
          server
          profile
          extraArgs
          identityFile
          ;
      }
      // extra
    );

  # The launchd keys of an agent job (nix-darwin daemon, Home Manager agent):
  # started at load and again whenever it exits, logging to `logFile`.
  # launchd kills a job's process group when it stops or reloads it (an
  # activation whose plist changed does); the deployment runner is detached
  # in its own session, and AbandonProcessGroup makes launchd leave it alone
  # too, so the restarted agent finds it still running.
  launchdJob = logFile: {
    RunAtLoad = true;
    KeepAlive = true;
    AbandonProcessGroup = true;
    ThrottleInterval = 2;
    StandardOutPath = logFile;
    StandardErrorPath = logFile;
  };

  # One word of a systemd command line: double-quoted (systemd's C-style
  # escapes are JSON's), with `%` (specifiers) and `$` (variable expansion)
  # doubled so that systemd passes the word through literally.
  escapeSystemdExecArg = arg: lib.replaceStrings [ "%" "$" ] [ "%%" "$$" ] (builtins.toJSON (toString arg));

  escapeSystemdExecArgs = args: lib.concatMapStringsSep " " escapeSystemdExecArg args;

  # Assertions every module makes about its agents (a list of { name; profile; tokenFile; }).
  agentAssertions =
    optionPath: agents:
    let
      names = map (a: a.name) agents;
      profiles = map (a: a.profile) agents;
      dupes = xs: lib.unique (lib.filter (x: lib.count (y: y == x) xs > 1) xs);
    in
    [
      {
        assertion = dupes names == [ ];
        message = "${optionPath}: two agents named ${lib.concatStringsSep ", " (dupes names)}; every agent (and every instance) needs its own name.";
      }
      {
        assertion = dupes profiles == [ ];
        message = "${optionPath}: two agents deploy the profile ${lib.concatStringsSep ", " (dupes profiles)}; give each instance its own profile.";
      }
    ]
    ++ map (a: {
      assertion = builtins.match "[A-Za-z0-9._-]{1,64}" a.name != null;
      message = "${optionPath}: the agent name ${builtins.toJSON a.name} is invalid: use 1-64 letters, digits, -, _ or . (set ${optionPath}.name; the system agent's defaults to the host name).";
    }) agents
    ++ map (a: {
      assertion = lib.hasPrefix "/" a.tokenFile && !lib.hasPrefix builtins.storeDir a.tokenFile;
      message = "${optionPath}: tokenFile of agent ${a.name} is ${builtins.toJSON a.tokenFile}; it must be an absolute path outside the Nix store (e.g. /run/secrets/drover-agent-token).";
    }) agents
    ++ map (a: {
      assertion = a.identityFile == null || (lib.hasPrefix "/" a.identityFile && !lib.hasPrefix builtins.storeDir a.identityFile);
      message = "${optionPath}: identityFile of agent ${a.name} is ${builtins.toJSON a.identityFile}; it must be an absolute path outside the Nix store (e.g. /var/lib/drover-keys/${a.name}.age).";
    }) agents;
}
