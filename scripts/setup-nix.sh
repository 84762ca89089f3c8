#!/usr/bin/env bash
# setup-nix.sh — make real Nix usable for Drover's tests on a Debian machine.
#
# Drover's integration tests drive the real nix-store / nix-env / nix copy.
# CI runners (and dev containers) run as root without a Nix daemon and without
# the kernel namespaces a build sandbox needs, so we use Debian's `nix-bin`
# package in single-user mode. This script:
#   1. installs nix-bin (and age, for the secrets tests) via apt-get when
#      `nix-store` (or `age`) is missing (retrying once after `apt-get update`);
#   2. writes the settings we depend on into /etc/nix/nix.conf
#      (other lines in that file are left alone);
#   3. proves the store works by adding a small file and reading it back.
# Safe to run any number of times. Prints a single summary line on success;
# failures go to stderr with a pointer to the relevant log.
set -euo pipefail

log=${TMPDIR:-/tmp}/drover-setup-nix.log
: >"$log"

fail() {
  echo "setup-nix: $*" >&2
  exit 1
}

if [ "$(id -u)" -ne 0 ]; then
  fail "must run as root (single-user Nix owns /nix)"
fi

# --- 1. install ------------------------------------------------------------
# nix-bin for Nix; age (Debian's age CLI) for the secrets tests, which check
# that a file encrypted with `age -r RECIPIENT` is accepted.
missing=()
command -v nix-store >/dev/null 2>&1 || missing+=(nix-bin)
command -v age >/dev/null 2>&1 || missing+=(age)
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1
}
if [ ${#missing[@]} -gt 0 ]; then
  if ! apt_install; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 || true
    apt_install || fail "apt-get install ${missing[*]} failed (see $log)"
  fi
  command -v nix-store >/dev/null 2>&1 || fail "nix-bin installed but nix-store is not on PATH"
  command -v age >/dev/null 2>&1 || fail "age installed but not on PATH"
fi

# --- 2. configure ------------------------------------------------------------
# build-users-group =   : we are root and there is no nixbld group
# sandbox = false       : containers lack the namespaces the sandbox needs
# experimental-features : `nix copy` and `nix path-info` live behind nix-command
# substituters =        : never reach out to cache.nixos.org; tests pass
#                         their own --option substituters explicitly
conf_dir=/etc/nix
conf=$conf_dir/nix.conf
mkdir -p "$conf_dir"
touch "$conf"
set_option() {
  local key=$1 value=$2 line
  line="$key = $value"
  if grep -Eq "^[[:space:]]*${key}[[:space:]]*=" "$conf"; then
    # Only rewrite when it differs, so repeated runs leave mtime alone.
    if ! grep -Fxq "$line" "$conf"; then
      sed -i -E "s|^[[:space:]]*${key}[[:space:]]*=.*$|${line}|" "$conf"
    fi
  else
    printf '%s\n' "$line" >>"$conf"
  fi
}
set_option build-users-group ""
set_option sandbox false
set_option experimental-features nix-command
set_option substituters ""

mkdir -p /nix/var/nix/profiles /nix/var/nix/gcroots

# --- 3. prove it works -------------------------------------------------------
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf 'drover setup-nix probe\n' >"$probe_dir/drover-setup-probe"
store_path=$(nix-store --add "$probe_dir/drover-setup-probe" 2>>"$log") \
  || fail "nix-store --add failed (see $log)"
[ "$(cat "$store_path")" = "drover setup-nix probe" ] \
  || fail "store path $store_path does not contain what was added"
nix path-info "$store_path" >/dev/null 2>>"$log" \
  || fail "'nix path-info' failed; is experimental-features = nix-command in effect? (see $log)"

echo "setup-nix: $(nix --version) ready (single-user, no sandbox, no substituters; probe $store_path)"
