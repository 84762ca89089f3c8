#!/usr/bin/env bash
# scripts/ci/deploy.sh — the CI step of Drover: check the tools, then build,
# push and deploy a flake. The GitHub composite action
# (.github/actions/deploy/action.yml) runs this script and nothing else; a
# GitLab job (docs/ci.md) runs it the same way; the e2e tests run it against
# a real server.
#
# Usage: deploy.sh [FLAKE]      FLAKE defaults to "." (FLAKE#ATTR: another output than `deploy`)
#
# Environment (the tokens come from CI secrets; they are never printed):
#   DROVER_SERVER          server URL (required)
#   DROVER_PUSH_TOKEN      push token of the cache (required)
#   DROVER_ACTIVATE_TOKEN  activate token of the workspace (required)
#   DROVER_MODE            deploy (default): `drover deploy FLAKE` builds, pushes and activates
#                          activate: build DROVER_SPEC (an installable whose output is a deploy.json,
#                          e.g. made with lib.writeDeploySpec), `drover push` its paths, `drover activate` it
#   DROVER_SPEC            activate mode: the installable, e.g. .#deployJson
#   DROVER_CACHE           built-in cache to push to (deploy: optional; activate: required)
#   DROVER_ON              deploy mode: space-separated agent names (default: every agent)
#   DROVER_TIMEOUT         stop waiting after this long (e.g. 15m): exit 2
#   DROVER_ASYNC           "true": return once the deployments are created
#   DROVER_INSTALL         a flake reference to install drover from when `drover` is not on PATH
#                          (e.g. github:OWNER/drover); otherwise drover must already be installed
# Exit codes: those of `drover activate` (0 all succeeded, 1 a failure, 2 timeout); 1 for a bad setup.
set -euo pipefail

fail() { echo "drover-ci: $*" >&2; exit 1; }
nix_flags=(--extra-experimental-features 'nix-command flakes')
flake=${1:-.}
mode=${DROVER_MODE:-deploy}

# Install check: tools and settings, before anything is built.
command -v nix >/dev/null || fail "nix is not on PATH: install Nix first (e.g. cachix/install-nix-action on GitHub)"
if ! command -v drover >/dev/null; then
  [ -n "${DROVER_INSTALL:-}" ] || fail "drover is not on PATH: install it, or set DROVER_INSTALL to a flake that provides it"
  nix "${nix_flags[@]}" profile install "${DROVER_INSTALL}#drover"
  command -v drover >/dev/null || fail "installed ${DROVER_INSTALL}#drover but drover is still not on PATH (add ~/.nix-profile/bin to PATH)"
fi
echo "drover-ci: drover $(drover --version | head -n1) with $(nix --version)" >&2
for var in DROVER_SERVER DROVER_PUSH_TOKEN DROVER_ACTIVATE_TOKEN; do
  [ -n "${!var:-}" ] || fail "$var is not set (pass it from a CI secret)"
done

common=()
[ -n "${DROVER_TIMEOUT:-}" ] && common+=(--timeout "$DROVER_TIMEOUT")
[ "${DROVER_ASYNC:-false}" = true ] && common+=(--async)

case $mode in
  deploy)
    args=()
    [ -n "${DROVER_CACHE:-}" ] && args+=(--cache "$DROVER_CACHE")
    for name in ${DROVER_ON:-}; do args+=(--on "$name"); done
    exec drover deploy "$flake" "${args[@]}" "${common[@]}"
    ;;
  activate)
    [ -n "${DROVER_SPEC:-}" ] || fail "DROVER_MODE=activate needs DROVER_SPEC, an installable that builds a deploy.json"
    [ -n "${DROVER_CACHE:-}" ] || fail "DROVER_MODE=activate needs DROVER_CACHE, the built-in cache to push to"
    # Building the deploy.json builds every closure it names (they are in its string context).
    spec=$(nix "${nix_flags[@]}" build --no-link --json "$DROVER_SPEC" | sed -n 's/.*"out":"\([^"]*\)".*/\1/p')
    [ -f "$spec" ] || fail "$DROVER_SPEC did not build a deploy.json file (got '${spec}')"
    mapfile -t paths < <(sed 's/,/\n/g' "$spec" | sed -n 's/.*"\(\/nix\/store\/[^"]*\)".*/\1/p')
    [ "${#paths[@]}" -gt 0 ] || fail "$spec names no store paths"
    drover push "$DROVER_CACHE" "${paths[@]}"
    exec drover activate "$spec" "${common[@]}"
    ;;
  *) fail "DROVER_MODE must be deploy or activate, not '$mode'" ;;
esac
