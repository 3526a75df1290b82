#!/usr/bin/env bash
# Times `trtq-lite inspect-cache` on a generated 5,000-entry calibration cache (the issue's
# target: well under 10 ms), as whole processes (start-up included, output to /dev/null), and
# the parser alone in-process (examples/cache_bench.rs). Prints Markdown tables; results are
# recorded in bench/RESULTS.md. Not a test: timings depend on the machine.
#   bash bench/cache_bench.sh [RUNS]     (default 50 runs per mode)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-50}"
cd "$root"
cargo build --release --quiet --bin trtq-lite --example cache_bench
bin="$root/target/release/trtq-lite"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# 5,000 entries shaped like a YOLO cache: ONNX-style names, scales spread over 2^-10..2^4.
# b.cache: the same tensors with every 10th scale nudged (mantissa + 1000), for --against.
awk -v a="$tmp/a.cache" -v b="$tmp/b.cache" 'BEGIN {
  print "TRT-100300-EntropyCalibration2" > a
  print "TRT-100300-EntropyCalibration2" > b
  srand(7)
  for (i = 0; i < 5000; i++) {
    e = 117 + int(rand() * 14)            # float32 exponent field
    m = int(rand() * 8000000)             # 23-bit mantissa (room left for the nudge)
    name = sprintf("/model.%d/m.%d/cv%d/conv/Conv_output_%d", int(i / 40), i % 40, i % 3, i)
    printf "%s: %08x\n", name, e * 8388608 + m > a
    printf "%s: %08x\n", name, e * 8388608 + m + (i % 10 == 0 ? 1000 : 0) > b
  }
}'

time_mode() {
  local label="$1"; shift
  local -a t=()
  for _ in $(seq "$runs"); do
    local s="$EPOCHREALTIME"
    "$@" >/dev/null 2>&1
    local e="$EPOCHREALTIME"
    t+=("$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", (e - s) * 1000 }')")
  done
  printf '%s\n' "${t[@]}" | sort -n | awk -v label="$label" '
    { v[NR] = $1 } END { printf "| %s | %.2f | %.2f | %.2f |\n", label, v[1], v[int((NR + 1) / 2)], v[NR] }'
}

echo "5,000-entry cache: $(wc -c < "$tmp/a.cache") bytes; $runs runs per mode; $(nproc) CPU(s); $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| inspect-cache (whole process) | min (ms) | median (ms) | max (ms) |"
echo "|---|---:|---:|---:|"
time_mode "--version (process start-up only)" "$bin" --version
time_mode "summary + table" "$bin" inspect-cache "$tmp/a.cache"
time_mode "--sort amax" "$bin" inspect-cache "$tmp/a.cache" --sort amax
time_mode "--json" "$bin" inspect-cache "$tmp/a.cache" --json
time_mode "--against (5,000 vs 5,000)" "$bin" inspect-cache "$tmp/a.cache" --against "$tmp/b.cache"
time_mode "--retarget -o" "$bin" inspect-cache "$tmp/a.cache" --retarget 8601 -o "$tmp/out.cache"
echo
"$root/target/release/examples/cache_bench" "$tmp/a.cache" 500
