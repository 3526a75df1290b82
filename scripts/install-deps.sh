#!/usr/bin/env bash
# Installs what building and testing trtq-lite needs on a fresh Debian/Ubuntu machine with a
# Rust toolchain (rustup): a C/C++ compiler (the shim, the test libraries) and libclang
# (bindgen). With --tests also what the test steps use: rustfmt/clippy, NumPy, valgrind, and
# for the Jetson smoke test the aarch64 cross compiler, qemu-user and the rustup target.
# Quick and silent when everything is there; uses apt-get and pip only when something is missing.
set -euo pipefail
tests=0
[ "${1:-}" = "--tests" ] && tests=1
export DEBIAN_FRONTEND=noninteractive
need=()
command -v g++ >/dev/null || need+=(g++)
command -v python3 >/dev/null || need+=(python3)
# bindgen (a build-dependency) loads libclang at build time.
ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/x86_64-linux-gnu/libclang-*.so* /usr/lib/aarch64-linux-gnu/libclang-*.so* >/dev/null 2>&1 ||
  need+=(libclang-dev)
# scripts/test.d/70-valgrind.sh runs calibrate under memcheck.
[ $tests = 1 ] && { command -v valgrind >/dev/null || need+=(valgrind); }
if [ $tests = 1 ]; then
  # The Jetson cross build and its emulated smoke test (scripts/test.d/80-aarch64-smoke.sh).
  command -v aarch64-linux-gnu-g++ >/dev/null || need+=(g++-aarch64-linux-gnu)
  command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
fi
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ $tests = 1 ]; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
    rustup target add aarch64-unknown-linux-gnu
  # NumPy for the data cross-checks (scripts/test.d/30-data-numpy.sh). Debian 12 marks its
  # Python as externally managed, hence --break-system-packages as a fallback.
  python3 -c 'import numpy' 2>/dev/null ||
    python3 -m pip install --quiet numpy 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages numpy
fi
