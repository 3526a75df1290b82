#!/usr/bin/env bash
# Smoke test of bench/calib_bench.sh (issue 6: trtq-lite vs the seed's Python calibrator) on a
# tiny set (16 samples of 3x64x64, batch 8) with trtsim 10 and the host-memory libcuda stand-in,
# using the cp311 tensorrt-cu12-bindings wheel that 30-conformance.sh cached in
# target/conformance/wheels. Checks: the script exits 0 (every run succeeded and all caches are
# byte-identical), the table has a row per tool and layout, both tools fed 2 batches.
# Skipped (counted as passed, with a message) only when that wheel is absent.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
passed=0
failed=0
check() { # description, then a command
  local what="$1"; shift
  if "$@"; then echo "  ok   $what"; passed=$((passed + 1)); else echo "  FAIL $what"; failed=$((failed + 1)); fi
}
wheels="$root/target/conformance/wheels"
if ! ls "$wheels"/tensorrt_cu12_bindings-10.*-cp311-*.whl >/dev/null 2>&1; then
  echo "  skip: no cp311 tensorrt_cu12_bindings 10.x wheel in $wheels (30-conformance.sh downloads it)"
  echo "$passed passed, $failed failed"
  exit 0
fi
[ -f target/test-libs/trtsim/10/libnvinfer.so.10 ] && [ -f target/test-libs/hostcuda/libcuda.so.1 ] || bash scripts/build-test-libs.sh >/dev/null
bin="${TRTQ_BIN:-$root/target/debug/trtq-lite}"
[ -x "$bin" ] || cargo build --quiet
work="$root/target/bench-smoke"
log="$work.log"
rm -rf "$work"
set +e
TRTQ_BIN="$bin" LIBCUDA=target/test-libs/hostcuda/libcuda.so.1 WHEEL_DIR="$wheels" BENCH_DIR="$work" \
  BENCH_SAMPLES=16 BENCH_HW=64 BENCH_BATCHES=8 BENCH_COLD=0 BENCH_KEEP=1 bash bench/calib_bench.sh >"$log" 2>&1
rc=$?
set -e
check "calib_bench.sh exits 0 (rc $rc; log $log)" [ "$rc" -eq 0 ]
check "table: trtq-lite and seed-python rows for both layouts" \
  bash -c "[ \$(grep -cE '^\| (trtq-lite|seed-python) +\| (files|one file) +\| 8 +\| 2 ' '$work/table.md') -eq 4 ]"
check "table: every pair of caches identical" bash -c "! grep -q '| NO ' '$work/table.md' && grep -q 'byte-identical to each other: yes' '$work/table.md'"
check "seed calibrator fed 2 batches of 8x3x64x64 f32 (786432 bytes)" \
  bash -c "grep -q '\"bytes_fed\": 786432' '$work/logs/seed-python_files_b8.json'"
check "caches written by both tools are non-empty entropy2 caches" \
  bash -c "head -1 '$work/caches/trtq-files-b8' | grep -q EntropyCalibration2 && cmp -s '$work/caches/trtq-files-b8' '$work/caches/seed-files-b8'"
# trtsim's TRTSIM_SPILL_DIR (which the benchmark sets, so trtsim's values are not in the RSS)
# must not change a threshold: the same calibration with and without it, every algorithm.
for algo in entropy2 entropy minmax legacy; do
  for mode in ram spill; do
    rm -f "$work/spill-$algo-$mode.cache"
    spill=""
    [ "$mode" = spill ] && spill="$work/spill"
    TRTSIM_SPILL_DIR="$spill" TRTSIM_VERSION=101601 \
      "$bin" calibrate "$work/model.onnx" --data "$work/big.npy" --batch-size 8 --algo "$algo" --quiet \
      --cache "$work/spill-$algo-$mode.cache" --engine "$work/spill-$algo-$mode.engine" \
      --nvinfer target/test-libs/trtsim/10 --cuda-lib target/test-libs/hostcuda/libcuda.so.1 >/dev/null 2>&1 || true
  done
  check "trtsim $algo: the same cache with and without TRTSIM_SPILL_DIR" \
    bash -c "[ -s '$work/spill-$algo-ram.cache' ] && cmp -s '$work/spill-$algo-ram.cache' '$work/spill-$algo-spill.cache'"
done
[ "$failed" -eq 0 ] || tail -30 "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
