#!/usr/bin/env bash
# Builds the test-only stand-in libraries into their fixed homes (never part of the product):
#   target/test-libs/hostcuda/libcuda.so.1         host-memory libcuda stand-in (tests/support/hostcuda)
#   target/test-libs/trtsim/{8,10}/libnvinfer.so.* the TensorRT simulator (trtsim/)
# Each part has its own build script; this one runs those that exist. Needs only a C/C++
# compiler (CC/CXX, default cc/c++). A cross build: TARGET_TRIPLE=aarch64-linux-gnu (or CC/CXX
# naming the cross compilers) builds into target/test-libs/aarch64/... (scripts/test-libs-env.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/test-libs-env.sh"
mkdir -p "$TEST_LIBS"
for part in "$root/tests/support/hostcuda/build.sh" "$root/trtsim/build.sh"; do
  if [ -f "$part" ]; then
    bash "$part"
  fi
done
