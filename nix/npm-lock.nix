# Adds a registry tarball URL (`resolved`) to every registry package of a
# parsed package-lock.json (lockfileVersion 2 or 3), so that nixpkgs'
# importNpmLock can fetch each one with its `integrity` as the hash.
#
# Our lock is written without `resolved` URLs (npm's
# omit-lockfile-registry-resolved), so the URL is derived from the entry:
#   <registry>/<name>/-/<name without scope>-<version>.tgz
# which is the layout of registry.npmjs.org and of the registries that mirror
# it (Verdaccio, Artifactory, Nexus npm repositories).
#   - <name> is the entry's `name` when it has one (an `npm:` alias), else the
#     last `node_modules/` segment of its key, so nested keys
#     (node_modules/a/node_modules/@s/b) and scoped names (@s/b) both work.
#   - Workspace links (`link = true`), the root and the workspace folders
#     (keys outside node_modules) and entries that already have `resolved`
#     are left as they are.
#   - A registry entry without `integrity` is an error: the hash could not be
#     checked.
#
# Pure: builtins only (no nixpkgs), so it is evaluated in the tests.
{
  packageLock,
  registry ? "https://registry.npmjs.org",
}:
let
  base =
    let
      m = builtins.match "(https?://[^/]+(/.*[^/])?)/*" registry;
    in
    if m == null then
      throw "drover: npmRegistry must be an http(s) URL such as https://registry.npmjs.org, got ${builtins.toJSON registry}"
    else
      builtins.head m;

  lastSegment =
    key:
    let
      parts = builtins.split "node_modules/" key;
    in
    builtins.elemAt parts (builtins.length parts - 1);

  isInstalled = key: builtins.match "(.*/)?node_modules/.+" key != null;

  needsUrl = key: entry: isInstalled key && !(entry.link or false) && !(entry ? resolved);

  tarballUrl =
    key: entry:
    let
      name = entry.name or (lastSegment key);
      m = builtins.match "(@[^/]+/)?([^/]+)" name;
      version = entry.version or (throw "drover: package-lock.json entry ${key} has no version");
    in
    if m == null then
      throw "drover: package-lock.json entry ${key} has an unusable name ${builtins.toJSON name}"
    else
      "${base}/${name}/-/${builtins.elemAt m 1}-${version}.tgz";

  withUrl =
    key: entry:
    if !(needsUrl key entry) then
      entry
    else if !(entry ? integrity) then
      throw "drover: package-lock.json entry ${key} has neither resolved nor integrity; run `npm install` to complete the lock"
    else
      entry // { resolved = tarballUrl key entry; };
in
if !(packageLock ? packages) then
  throw "drover: package-lock.json has no `packages` (lockfileVersion ${toString (packageLock.lockfileVersion or 1)}); npm 7 or newer writes one"
else
  packageLock // { packages = builtins.mapAttrs withUrl packageLock.packages; }
