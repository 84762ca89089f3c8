# nix-darwin module `services.drover-agent` (flake: darwinModules.agent): the
# Drover agent as a launchd daemon deploying the `system` profile (nix-darwin
# activation), started at boot and again whenever it exits, plus any number
# of `instances`, each one more daemon owning its own profile; `secrets`
# declares the secrets the machine expects (as on NixOS: docs/secrets.md).
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
  hostName = config.networking.hostName;

  daemonFor = agent: {
    # One shell word per argument (escapeShellArgs): nix-darwin runs
    # `command` as /bin/sh -c "/bin/wait4path /nix/store && exec COMMAND",
    # so the daemon waits for the store volume to be mounted.
    command = lib.escapeShellArgs (
      common.agentArgv cfg.package agent {
        inherit (agent) tokenFile;
        declaredSecrets = common.declaredSecretsFile pkgs agent;
      }
    );
    # nix-store / nix-env for the deployment, and the system's tools.
    path = [
      config.nix.package
      pkgs.coreutils
      config.environment.systemPath
    ];
    environment.NIX_SSL_CERT_FILE = "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt";
    # Kept alive, its runner surviving the daemon's restart: see common.nix.
    serviceConfig = common.launchdJob "/var/log/${agent.key}.log";
  };
in
{
  options.services.drover-agent = common.agentOptions {
    inherit pkgs;
    inherit (cfg) server;
    what = "the Drover agent, which keeps this Mac's nix-darwin system profile deployed";
    nameDefault =
      if hostName != null then
        hostName
      else
        throw "services.drover-agent.name: set it, or networking.hostName (nix-darwin leaves the host name unset unless told).";
    nameDefaultText = lib.literalExpression "config.networking.hostName";
    profileDefault = "system";
    profileDescription = "The profile the agent deploys: `system` (nix-darwin), a name under /nix/var/nix/profiles, or an absolute path.";
    instanceUnit = "the launchd daemon org.nixos.drover-agent-<n>";
  };

  config = lib.mkIf cfg.enable {
    assertions = common.agentAssertions "services.drover-agent" agents ++ common.secretAssertions "services.drover-agent" agents ++ [
      {
        assertion = config.nix.enable;
        message = "services.drover-agent needs nix.enable: the agent deploys with this machine's Nix.";
      }
    ];
    launchd.daemons = lib.listToAttrs (map (agent: lib.nameValuePair agent.key (daemonFor agent)) agents);
  };
}
