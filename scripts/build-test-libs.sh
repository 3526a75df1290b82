#!/usr/bin/env bash
# Builds the test-only stand-in libraries into their fixed homes (never part of the product):
#   target/test-libs/hostcuda/libcuda.so.1         host-memory libcuda stand-in (tests/support/hostcuda)
#   target/test-libs/trtsim/{8,10}/libnvinfer.so.* the TensorRT simulator (trtsim/)
# Each part has its own build script; this one runs those that exist. Needs only a C/C++
# compiler (CC/CXX, default cc/c++). Pass TARGET_TRIPLE=aarch64-linux-gnu with the matching
# compilers for a cross build (into target/test-libs/<triple>/...).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export TEST_LIBS="${TEST_LIBS:-$root/target/test-libs}"
mkdir -p "$TEST_LIBS"
for part in "$root/tests/support/hostcuda/build.sh" "$root/trtsim/build.sh"; do
  if [ -f "$part" ]; then
    bash "$part"
  fi
done
