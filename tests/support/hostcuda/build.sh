#!/usr/bin/env bash
# Builds the host-memory libcuda stand-in (tests only) into $TEST_LIBS/hostcuda/libcuda.so.1
# (default target/test-libs). CC and TEST_LIBS may be set by the caller; a cross compiler
# (TARGET_TRIPLE or CC) builds into target/test-libs/<arch>/ (scripts/test-libs-env.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
. "$root/scripts/test-libs-env.sh"
out="$TEST_LIBS/hostcuda"
mkdir -p "$out"
src="$here/hostcuda.c"
lib="$out/libcuda.so.1"
if [ ! -f "$lib" ] || [ "$src" -nt "$lib" ] || [ "$0" -nt "$lib" ]; then
  $CC -std=c11 -O2 -g -Wall -Wextra -Werror -fPIC -shared -pthread \
    -Wl,-soname,libcuda.so.1 -o "$lib.tmp" "$src"
  mv "$lib.tmp" "$lib"
fi
ln -sf libcuda.so.1 "$out/libcuda.so"
echo "hostcuda: $lib"
