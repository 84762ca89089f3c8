#!/usr/bin/env bash
# Unpacks the trees the Nix module tests evaluate our modules in (nixpkgs'
# lib, Home Manager, nix-darwin: test data, never part of the project) from
# ${DROVER_NIX_MODULE_TARBALLS:-/work/shared/nix/modules} into a directory
# outside the checkout, cached by the tarballs' hash, and prints that
# directory. Exit 3 (with one line on stderr) when a tarball is missing.
set -euo pipefail
src="${DROVER_NIX_MODULE_TARBALLS:-/work/shared/nix/modules}"
names=(nixpkgs-lib home-manager nix-darwin)
files=()
for n in "${names[@]}"; do
  if [ ! -f "$src/$n.tar.gz" ]; then
    echo "no $src/$n.tar.gz (set DROVER_NIX_MODULE_TARBALLS to the directory holding nixpkgs-lib.tar.gz, home-manager.tar.gz and nix-darwin.tar.gz)" >&2
    exit 3
  fi
  files+=("$src/$n.tar.gz")
done
hash=$(cat "${files[@]}" | sha256sum | cut -c1-16)
dest="${TMPDIR:-/tmp}/drover-nix-module-trees-$hash"
if [ ! -d "$dest" ]; then
  partial=$(mktemp -d "$dest.partial.XXXXXX")
  trap 'rm -rf "$partial"' EXIT
  for n in "${names[@]}"; do
    tar -xzf "$src/$n.tar.gz" -C "$partial"
    [ -d "$partial/$n" ] || { echo "$src/$n.tar.gz holds no $n/ directory" >&2; exit 1; }
  done
  # Atomic: a concurrent run that got there first wins, ours is dropped.
  mv -T "$partial" "$dest" 2>/dev/null || [ -d "$dest" ]
fi
echo "$dest"
