# Home Manager module `services.drover-agent` (flake:
# homeManagerModules.agent): the Drover agent deploying this user's
# `home-manager` profile, as a systemd user service on Linux and a launchd
# agent on Darwin, plus any number of `instances` (one more agent each,
# owning its own profile). Every argument is its own argv word. `secrets`
# declares the secrets this user's services expect; each needs a `path` (a
# user's agent cannot write /run/drover/secrets; docs/secrets.md).
{
  config,
  lib,
  pkgs,
  ...
}:
let
  common = import ../common.nix { inherit lib; };
  cfg = config.services.drover-agent;
  agents = common.agentsOf cfg;
  inherit (pkgs.stdenv.hostPlatform) isDarwin isLinux;

  nixPackage = if config.nix.package != null then config.nix.package else pkgs.nix;

  # A bare profile name is one of this user's profiles, where Nix (2.14+)
  # and Home Manager keep them: $XDG_STATE_HOME/nix/profiles/NAME.
  profilePath = profile: if lib.hasInfix "/" profile then profile else "${config.xdg.stateHome}/nix/profiles/${profile}";

  # The program and its arguments, one list element per argv word. The token
  # is passed as a file: a user unit gains nothing from LoadCredential=
  # (the file is the user's own) and launchd has no such thing.
  argvOf =
    agent:
    common.agentArgv cfg.package agent {
      inherit (agent) tokenFile;
      profile = profilePath agent.profile;
      declaredSecrets = common.declaredSecretsFile pkgs agent;
    };

  systemdService = agent: {
    Unit = {
      Description = "Drover agent ${agent.name} (profile ${agent.profile})";
      # A switch that changes the unit restarts the agent (so a new version
      # takes effect); the deployment it is running carries on (see
      # KillMode) and the restarted agent picks it up from its state.
      X-SwitchMethod = "restart";
      # (A user manager has no network-online.target; the agent retries its
      # connection with back-off until the network is there.)
    };
    Service = {
      ExecStart = common.escapeSystemdExecArgs (argvOf agent);
      Environment = [ "PATH=${lib.makeBinPath [ nixPackage ]}" ];
      Restart = "always";
      RestartSec = 2;
      # A user's agent usually may not put its runner in a scope of its own
      # (systemd-run as non-root), so the runner stays in this cgroup:
      # stopping or restarting the unit must signal only the agent.
      KillMode = "process";
    };
    Install.WantedBy = [ "default.target" ];
  };

  launchdAgent = agent: {
    enable = true;
    # Background services need no GUI session.
    domain = "user";
    # Kept alive, its runner surviving the agent's restart: see common.nix.
    config = common.launchdJob "${config.xdg.stateHome}/${agent.key}.log" // {
      ProgramArguments = argvOf agent;
      EnvironmentVariables.PATH = "${lib.makeBinPath [ nixPackage ]}:/usr/bin:/bin:/usr/sbin:/sbin";
    };
  };
in
{
  options.services.drover-agent = common.agentOptions {
    inherit pkgs;
    inherit (cfg) server;
    what = "the Drover agent, which keeps this user's Home Manager profile deployed";
    profileDefault = "home-manager";
    profileDescription = ''
      The profile the agent deploys: a name of one of this user's profiles
      (`home-manager`: `$XDG_STATE_HOME/nix/profiles/home-manager`, where Nix 2.14+
      and Home Manager keep it) or an absolute path.
    '';
    instanceUnit = "drover-agent-<n> (systemd user service / launchd agent)";
    # A user's agent cannot write /run/drover/secrets: each secret names its path.
    secretPathDefault = false;
  };

  config = lib.mkIf cfg.enable {
    assertions = common.agentAssertions "services.drover-agent" agents ++ common.secretAssertions "services.drover-agent" agents ++ [
      {
        assertion = isLinux || isDarwin;
        message = "services.drover-agent: Home Manager runs the agent with systemd (Linux) or launchd (Darwin) only.";
      }
    ];
    systemd.user.services = lib.mkIf isLinux (lib.listToAttrs (map (a: lib.nameValuePair a.key (systemdService a)) agents));
    launchd.agents = lib.mkIf isDarwin (lib.listToAttrs (map (a: lib.nameValuePair a.key (launchdAgent a)) agents));
  };
}
