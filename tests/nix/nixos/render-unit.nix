# Writes the text of a NixOS service unit file from an evaluated
# `systemd.services.<name>` (see ./options.nix) the way nixpkgs'
# nixos/lib/systemd-lib.nix does: [Unit] from unitConfig plus the
# description/after/wants/… options (space-joined), [Service] with one
# Environment= line per variable, the X-*IfChanged hints and serviceConfig,
# keys in attribute order, a list value one line per element; [Install]
# with wantedBy.
{ lib }:
let
  toOption =
    x:
    if x == true then
      "true"
    else if x == false then
      "false"
    else
      toString x;

  attrsToSection =
    as:
    lib.concatStrings (
      lib.concatLists (lib.mapAttrsToList (name: value: map (x: "${name}=${toOption x}\n") (lib.toList value)) as)
    );

  joined = list: lib.optionalString (list != [ ]) (lib.concatStringsSep " " list);

  unitConfigOf =
    def:
    lib.filterAttrs (_: v: v != "" && v != [ ]) {
      Description = def.description;
      Documentation = def.documentation;
      After = joined def.after;
      Before = joined def.before;
      Wants = joined def.wants;
      Requires = joined def.requires;
      BindsTo = joined def.bindsTo;
      PartOf = joined def.partOf;
      Conflicts = joined def.conflicts;
    }
    // def.unitConfig;

  envLines =
    env:
    lib.concatMapStrings (n: lib.optionalString (env.${n} != null) "Environment=${builtins.toJSON "${n}=${env.${n}}"}\n") (
      lib.attrNames env
    );
in
def:
''
  [Unit]
  ${attrsToSection (unitConfigOf def)}
  [Service]
''
+ envLines def.environment
+ (
  if def.reloadIfChanged then
    "X-ReloadIfChanged=true\n"
  else if !def.restartIfChanged then
    "X-RestartIfChanged=false\n"
  else
    ""
)
+ lib.optionalString (!def.stopIfChanged) "X-StopIfChanged=false\n"
+ attrsToSection def.serviceConfig
+ lib.optionalString (def.wantedBy != [ ]) ''

  [Install]
  WantedBy=${lib.concatStringsSep " " def.wantedBy}
''
