#!/usr/bin/env bash
# The whole test suite (README's second set-up command; .ci/run calls it).
# 0. installs what is missing (scripts/install-deps.sh --tests: g++, libclang, NumPy),
# 1. builds the test-only stand-in libraries (scripts/build-test-libs.sh),
# 2. runs every Rust test (cargo test --all-targets),
# 3. runs each scripts/test.d/*.sh in name order (ABI facts comparison, conformance with
#    NVIDIA's compiled bindings, ...). Each prints a closing "N passed, N failed" line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh --tests
bash scripts/build-test-libs.sh
cargo test --all-targets
shopt -s nullglob
for t in scripts/test.d/*.sh; do
  echo "== $t"
  bash "$t"
done
echo "test-all: all steps passed"
