# nix/lib.nix — Drover's Nix library (flake output `lib`): deploy.json from
# configurations, in Cachix Deploy's format, so `drover activate` (and
# `cachix deploy activate`) take it unchanged:
#
#   {"agents": {"NAME": "/nix/store/…"}, "rollbackScript": {"SYSTEM": "/nix/store/…"}}
#
#   mkDeploySpec { agents = { web-1 = nixosConfiguration; laptop = homeConfiguration;
#                             mac = darwinConfiguration; other = derivation or "/nix/store/…"; };
#                  rollbackScript = { x86_64-linux = derivation; }; }   # optional
#     → that content as an attribute set of store path strings (with their
#       string context, so whatever uses them depends on the closures)
#   writeDeploySpec pkgs { … }   → the same as a file (pkgs.writeText "deploy.json")
#   deployPlan { only = [ NAME … ] or null; } deploy
#     → what `drover deploy` evaluates: { spec; realise = [ DRV or PATH … ]; } or { unknown; available; }
#
# This file is the one place where "configuration → store path" is decided;
# the CLI evaluates it too. It uses builtins only, so it evaluates without
# nixpkgs (`lib` is taken for the flake's usual calling convention).
{ lib ? null }:
let
  inherit (builtins) attrNames concatLists filter getContext isAttrs isString listToAttrs map mapAttrs match typeOf;

  isDerivation = v: isAttrs v && (v.type or null) == "derivation";

  # A store path at the top of the store: /nix/store/HASH-NAME, nothing below it.
  isStorePathString = s: isString s && match "${builtins.storeDir}/[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+_?=.-]+" s != null;

  describe = v: if isAttrs v then "an attribute set with keys ${builtins.toJSON (attrNames v)}" else "a ${typeOf v}";

  # What one value of `agents` (or of `rollbackScript`) deploys, as a store path string.
  storePathOf = what: v:
    if isString v then
      (if isStorePathString v then v else throw "drover: ${what} is the string ${builtins.toJSON v}, which is not a store path (/nix/store/HASH-NAME)")
    # Home Manager: homeManagerConfiguration { … }
    else if isAttrs v && v ? activationPackage then "${v.activationPackage}"
    # NixOS: nixosSystem { … }; nix-darwin: darwinSystem { … } (its config has the same toplevel)
    else if isAttrs v && v ? config && (v.config.system.build.toplevel or null) != null then "${v.config.system.build.toplevel}"
    # nix-darwin's own `system` attribute (the toplevel derivation)
    else if isAttrs v && isDerivation (v.system or null) then "${v.system}"
    else if isDerivation v then "${v}"
    else
      throw "drover: ${what} is ${describe v}; expected a NixOS, nix-darwin or Home Manager configuration, a derivation or a /nix/store path";

  checkAttrs = what: v: if isAttrs v && !isDerivation v then v else throw "drover: ${what} must be an attribute set, not ${describe v}";

  mkDeploySpec = args:
    let
      a = checkAttrs "mkDeploySpec's argument" args;
      unknown = filter (k: k != "agents" && k != "rollbackScript") (attrNames a);
      agents = checkAttrs "mkDeploySpec's agents" (a.agents or (throw "drover: mkDeploySpec needs `agents`, an attribute set of agent names"));
      rollback = a.rollbackScript or null;
    in
    if unknown != [ ] then
      throw "drover: mkDeploySpec takes `agents` and `rollbackScript`, not ${builtins.toJSON unknown}"
    else if agents == { } then
      throw "drover: mkDeploySpec's agents is empty: name at least one agent"
    else
      { agents = mapAttrs (name: storePathOf "agent ${builtins.toJSON name}") agents; }
      // (if rollback == null then { } else {
        rollbackScript = mapAttrs (system: storePathOf "rollbackScript.${system}") (checkAttrs "mkDeploySpec's rollbackScript" rollback);
      });

  writeDeploySpec = pkgs: args: pkgs.writeText "deploy.json" (builtins.toJSON (mkDeploySpec args));

  # What to realise for one store path string: the derivations in its
  # context (their outputs are the path), else the path itself (substituted).
  toRealise = p:
    let drvs = filter (k: (getContext p).${k} ? outputs) (attrNames (getContext p));
    in if drvs == [ ] then [ (builtins.unsafeDiscardStringContext p) ] else drvs;

  # `drover deploy`: the spec (only the agents asked for) and what `nix build`
  # must realise for it. Each agent is evaluated under an error context naming
  # it, so an evaluation error says which agent it came from.
  deployPlan = { only ? null }: deploy:
    let
      d = checkAttrs "the flake's `deploy` output" deploy;
      agents = checkAttrs "deploy.agents" (d.agents or (throw "drover: the flake's `deploy` output has no `agents`"));
      names = if only == null then attrNames agents else only;
      unknown = filter (n: !(agents ? ${n})) names;
      picked = listToAttrs (map (n: { name = n; value = agents.${n}; }) names);
      spec = mkDeploySpec ({ agents = picked; } // (if d ? rollbackScript then { inherit (d) rollbackScript; } else { }));
      within = what: p: builtins.addErrorContext "while evaluating drover ${what}" (builtins.seq (toRealise p) p);
      checked = {
        agents = mapAttrs (n: within "agent ${builtins.toJSON n}") spec.agents;
      } // (if spec ? rollbackScript then { rollbackScript = mapAttrs (s: within "rollbackScript.${s}") spec.rollbackScript; } else { });
      all = builtins.attrValues checked.agents ++ builtins.attrValues (checked.rollbackScript or { });
    in
    if unknown != [ ] then { inherit unknown; available = attrNames agents; } else {
      spec = checked;
      realise = concatLists (map toRealise all);
    };
in
{
  inherit mkDeploySpec writeDeploySpec deployPlan;
}
