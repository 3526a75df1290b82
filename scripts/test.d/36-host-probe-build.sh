#!/usr/bin/env bash
# bench/host_probe.c (the GPU host probe behind bench/RESULTS.md's feed analysis) keeps
# compiling without warnings, and refuses an unknown mode before touching libcuda.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(uname -m)" != x86_64 ]; then echo "0 passed, 0 failed (x86-64 only: AVX2 code)"; exit 0; fi
mkdir -p target
cc -O2 -mavx2 -mclflushopt -Wall -Wextra -Werror -pthread -o target/host_probe bench/host_probe.c -ldl
rc=0; target/host_probe /dev/null 1 nonsense 2>/dev/null || rc=$?
if [ "$rc" = 2 ]; then echo "2 passed, 0 failed"; else echo "unknown mode gave exit $rc, not 2"; echo "1 passed, 1 failed"; exit 1; fi
