# NixOS module `services.drover-agent` (flake: nixosModules.agent): the
# Drover agent as a system service deploying the `system` profile, plus any
# number of `instances`, each one more agent (own unit, own state directory)
# owning its own profile; and `checks`, the health checks the agent runs
# after activating this configuration, written to the system toplevel as
# drover-checks.json; and `secrets`, the secrets the machine expects
# (services use `config.services.drover-agent.secrets.<name>.path`; the agent
# gets the declaration as a JSON file to check against what it receives).
# See docs/agent-service.md and docs/secrets.md.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  common = import ../common.nix { inherit lib; };
  inherit (lib) mkOption types;
  cfg = config.services.drover-agent;

  agents = common.agentsOf cfg;

  stateDirectory = agent: "drover-agent/${agent.name}";

  unitFor = agent: {
    description = "Drover agent ${agent.name} (profile ${agent.profile})";
    after = [ "network-online.target" ];
    wants = [ "network-online.target" ];
    wantedBy = [ "multi-user.target" ];
    # nix-store / nix-env for the deployment; systemd-run (in the default
    # path of every NixOS service) starts the deployment runner in a unit of
    # its own.
    path = [ config.nix.package ];
    # A switch that changes this unit restarts it (so a new agent version
    # takes effect) once activation is done instead of stopping it first.
    # The restart never kills a running deployment: the agent starts its
    # runner outside this unit's cgroup (systemd-run), and the restarted
    # agent picks the deployment up from its state directory.
    restartIfChanged = true;
    stopIfChanged = false;
    # Removing the unit (e.g. a configuration without the agent) must not
    # stop the agent that is deploying it; it goes away at the next boot.
    unitConfig.X-StopOnRemoval = false;
    serviceConfig = {
      ExecStart = common.escapeSystemdExecArgs (
        common.agentArgv cfg.package agent {
          stateDir = "/var/lib/${stateDirectory agent}";
          declaredSecrets = common.declaredSecretsFile pkgs agent;
        }
      );
      # The token reaches the agent as $CREDENTIALS_DIRECTORY/agent-token,
      # readable by this unit only; the file itself may stay root-only.
      # (`%` doubled: systemd expands specifiers in the path.)
      LoadCredential = "${common.credentialName}:${lib.replaceStrings [ "%" ] [ "%%" ] agent.tokenFile}";
      Restart = "always";
      RestartSec = 2;
      # Exit 78 (DROVER_ERR_AGENT_SETUP): the agent cannot use its state
      # directory; restarting would fail the same way, so systemd stops and
      # `systemctl status` shows the agent's message instead of a loop.
      RestartPreventExitStatus = 78;
      # Belt and braces: should the runner ever stay in this cgroup (no
      # systemd-run on the machine), stopping or restarting the unit still
      # only signals the agent itself, never the deployment it started.
      KillMode = "process";
      StateDirectory = stateDirectory agent;
      StateDirectoryMode = "0700";
    };
  };

  # An optional field of a check: null (left out of the JSON) unless set.
  nullable =
    type: description:
    mkOption {
      type = types.nullOr type;
      default = null;
      inherit description;
    };

  checkModule = {
    options = {
      type = mkOption {
        type = types.enum [
          "unit"
          "no-failed-units"
          "http"
          "tcp"
          "command"
        ];
        description = "What the check looks at.";
      };
      name = nullable types.str "A name for the check in the deployment's log.";
      unit = nullable types.str "`unit` checks: the systemd unit that must be active." // {
        example = "nginx.service";
      };
      url = nullable types.str "`http` checks: the URL that must answer 2xx." // {
        example = "http://127.0.0.1:80/health";
      };
      host = nullable types.str "`tcp` checks: the host to connect to.";
      port = nullable types.port "`tcp` checks: the port to connect to.";
      argv = nullable (types.nonEmptyListOf types.str) "`command` checks: the program and its arguments; exit 0 is healthy.";
      retries = nullable types.ints.unsigned "Tries after the first failure (the agent's default: 5).";
      interval = nullable types.str "Wait between tries, a duration (the agent's default: 2s)." // {
        example = "2s";
      };
      timeout = nullable types.str "Limit of one try, a duration (the agent's default: 10s)." // {
        example = "10s";
      };
    };
  };

  # Fields each check type needs (the others must stay unset).
  checkFields = {
    unit = [ "unit" ];
    no-failed-units = [ ];
    http = [ "url" ];
    tcp = [
      "host"
      "port"
    ];
    command = [ "argv" ];
  };
  specificFields = lib.unique (lib.concatLists (lib.attrValues checkFields));

  checkAssertions = lib.imap1 (
    i: check:
    let
      wanted = checkFields.${check.type};
      missing = lib.filter (f: check.${f} == null) wanted;
      extra = lib.filter (f: check.${f} != null && !lib.elem f wanted) specificFields;
    in
    {
      assertion = missing == [ ] && extra == [ ];
      message = "services.drover-agent.checks, check ${toString i} (type ${check.type}): ${
        lib.optionalString (missing != [ ]) "needs ${lib.concatStringsSep ", " missing}"
      }${lib.optionalString (missing != [ ] && extra != [ ]) "; "}${
        lib.optionalString (extra != [ ]) "does not take ${lib.concatStringsSep ", " extra}"
      }.";
    }
  ) cfg.checks;

  checksJson = builtins.toJSON {
    checks = map (lib.filterAttrs (_: v: v != null)) cfg.checks;
  };
in
{
  options.services.drover-agent = common.agentOptions {
    inherit pkgs;
    inherit (cfg) server;
    what = "the Drover agent, which keeps this machine's system profile deployed";
    nameDefault = config.networking.hostName;
    nameDefaultText = lib.literalExpression "config.networking.hostName";
    profileDefault = "system";
    profileDescription = "The profile the agent deploys: `system` (NixOS), a name under /nix/var/nix/profiles, or an absolute path.";
    instanceUnit = "drover-agent-<n>.service";
  }
  // {
    checks = mkOption {
      type = types.listOf (types.submodule checkModule);
      default = [ ];
      example = lib.literalExpression ''
        [
          { type = "unit"; unit = "nginx.service"; }
          { type = "http"; url = "http://127.0.0.1/health"; retries = 10; }
        ]
      '';
      description = ''
        Health checks the agent runs after activating this configuration; if one
        still fails after its retries, the deployment fails (and is rolled back).
        Written to drover-checks.json at the root of the system toplevel.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = common.agentAssertions "services.drover-agent" agents ++ common.secretAssertions "services.drover-agent" agents ++ checkAssertions;
    systemd.services = lib.listToAttrs (map (agent: lib.nameValuePair agent.key (unitFor agent)) agents);
    system.extraSystemBuilderCmds = lib.mkIf (cfg.checks != [ ]) ''
      printf '%s\n' ${lib.escapeShellArg checksJson} > $out/drover-checks.json
    '';
  };
}
