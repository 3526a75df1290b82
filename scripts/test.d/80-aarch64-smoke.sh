#!/usr/bin/env bash
# The Jetson (aarch64) cross build and its emulated smoke test (scripts/aarch64-smoke.sh):
# cross release build, footprint, the binary under qemu-user against aarch64 builds of hostcuda
# and trtsim, and the shim/feed Rust tests under qemu. About 7 min from a fresh CI machine
# (README, "Jetson"). Needs g++-aarch64-linux-gnu, qemu-user and the rustup target, which
# .ci/run installs; without them this step fails and names the command that installs them.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bash "$root/scripts/aarch64-smoke.sh" --no-install
