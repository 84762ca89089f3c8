#!/usr/bin/env bash
# setup-systemd.sh — what the real-systemd tests (tests/src/systemd) need:
# systemd-nspawn and a cached Debian bookworm root filesystem whose PID 1 is
# systemd, booted by tests/src/support/nspawn.ts.
#
#   1. installs systemd-container and debootstrap with apt-get when missing
#      (retrying once after `apt-get update`); --no-install skips this step;
#   2. builds the root filesystem once, OUTSIDE the checkout, into
#      $DROVER_TEST_ROOTFS_CACHE (default /var/cache/drover-tests)/rootfs-bookworm-<key>,
#      where <key> is a hash of this script: a change to the recipe below
#      builds a new one. It is built in <dir>.partial and renamed when
#      complete, so an interrupted build is never used, under a lock so two
#      runs never build it at once;
#   3. prints the root filesystem's path (the last line of stdout).
#
# The root filesystem: debootstrap minbase with systemd and dbus, then
# Debian's nix-bin installed by apt inside it (the same release as the host's, so the container's nix-store
# reads and writes the host's /nix, bind-mounted read-write by the tests,
# with the same schema); an empty machine-id; getty and periodic timers
# masked so a boot settles at once.
# Root only. Safe to run any number of times; with the cache present it
# takes milliseconds. Failures go to stderr with the log to read.
set -euo pipefail

fail() {
  echo "setup-systemd: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "must run as root (systemd-nspawn and debootstrap need it)"

install=1
[ "${1:-}" = --no-install ] && install=0

log=${TMPDIR:-/tmp}/drover-setup-systemd.log
: >"$log"

# --- 1. install -----------------------------------------------------------
if [ "$install" = 1 ] && { ! command -v systemd-nspawn >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; }; then
  apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd-container debootstrap >>"$log" 2>&1; }
  if ! apt_install; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 || true
    apt_install || fail "apt-get install systemd-container debootstrap failed (see $log)"
  fi
fi
command -v systemd-nspawn >/dev/null 2>&1 || fail "systemd-nspawn is not installed (apt-get install systemd-container)"

# --- 2. the root filesystem, cached -----------------------------------------
cache=${DROVER_TEST_ROOTFS_CACHE:-/var/cache/drover-tests}
key=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
rootfs=$cache/rootfs-bookworm-$key
mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$cache"
exec 9>"$cache/.build.lock"
flock -w 900 9 || fail "another build of $rootfs held $cache/.build.lock for 15 minutes"
if [ ! -x "$rootfs/lib/systemd/systemd" ]; then
  command -v debootstrap >/dev/null 2>&1 || fail "debootstrap is not installed (apt-get install debootstrap), and $rootfs is not built"
  started=$(date +%s)
  rm -rf "$rootfs.partial"
  timeout 900 debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$rootfs.partial" "$mirror" >>"$log" 2>&1 \
    || { rm -rf "$rootfs.partial"; fail "debootstrap of bookworm from $mirror failed (see $log)"; }
  # nix-bin's perl dependencies fail debootstrap's own configure pass, so it is installed by apt inside.
  timeout 900 systemd-nspawn --quiet --register=no --keep-unit -D "$rootfs.partial" --pipe -- /bin/sh -c \
    'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nix-bin' </dev/null >>"$log" 2>&1 \
    || { rm -rf "$rootfs.partial"; fail "apt-get install nix-bin inside $rootfs.partial failed (see $log)"; }
  : >"$rootfs.partial/etc/machine-id"
  rm -f "$rootfs.partial/var/lib/dbus/machine-id"
  echo drover-test >"$rootfs.partial/etc/hostname"
  systemctl --root="$rootfs.partial" mask console-getty.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer \
    e2scrub_all.timer dpkg-db-backup.timer systemd-tmpfiles-clean.timer tmp.mount >>"$log" 2>&1 \
    || fail "masking the getty and timer units of $rootfs.partial failed (see $log)"
  rm -rf "$rootfs.partial"/var/cache/apt/archives/*.deb "$rootfs.partial"/var/lib/apt/lists/*
  mv "$rootfs.partial" "$rootfs"
  echo "setup-systemd: built $rootfs in $(($(date +%s) - started)) s ($(du -sh "$rootfs" | cut -f1))" >&2
fi
echo "$rootfs"
