#!/usr/bin/env bash
# Cross-builds trtq-lite for Jetson (aarch64-unknown-linux-gnu) on an x86-64 Debian/Ubuntu
# machine with the distribution's stock cross toolchain: no NVIDIA header, library or SDK.
#
#   scripts/cross-aarch64.sh [--no-install] [--debug]
#
# Output: target/aarch64-unknown-linux-gnu/release/trtq-lite (debug/ with --debug; under
# $CARGO_TARGET_DIR when set).
# Installs what is missing (unless --no-install): Debian's g++-aarch64-linux-gnu (apt-get, as
# root or through sudo) and the rustup target aarch64-unknown-linux-gnu. The variables it sets
# for cargo, cc and bindgen are listed in scripts/aarch64-env.sh.
#
# glibc: the binary needs the glibc of the machine that built it or newer (Debian 12: 2.34
# symbols, fine for JetPack 6 / Ubuntu 22.04 with 2.35). For JetPack 5 (Ubuntu 20.04, glibc
# 2.31) run this script on Debian 11 or Ubuntu 20.04. scripts/footprint.sh prints the need.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

profile=release
install=1
for a in "$@"; do
  case "$a" in
    --no-install) install=0 ;;
    --debug) profile=debug ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "cross-aarch64.sh: unknown argument '$a' (see --help)" >&2; exit 2 ;;
  esac
done
need_qemu=0
. "$root/scripts/aarch64-env.sh"

flags=(--target "$aarch64_triple" --bin trtq-lite)
[ "$profile" = release ] && flags+=(--release)
cargo build "${flags[@]}"

bin="${CARGO_TARGET_DIR:-target}/$aarch64_triple/$profile/trtq-lite"
echo "cross-aarch64: $bin ($(stat -c %s "$bin") bytes)"
