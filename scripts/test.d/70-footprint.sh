#!/usr/bin/env bash
# Footprint of the x86-64 release binary (scripts/footprint.sh): stripped <= 3 MiB, dynamic
# dependencies only libc/libm/libgcc_s/libstdc++/libdl/libpthread + ld-linux, no RPATH. Also the
# debug build's NEEDED list, which still holds the C++ shim that the release link may drop
# when no subcommand calls it. The release build costs about 1.5 min on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release --bin trtq-lite
cargo build -q --bin trtq-lite
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
rc=0
bash scripts/footprint.sh "$target/release/trtq-lite" | tee "$log" || rc=1
bash scripts/footprint.sh --needed-only "$target/debug/trtq-lite" | tee -a "$log" || rc=1
awk '/^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3 } END { print p " passed, " f " failed" }' "$log"
exit $rc
