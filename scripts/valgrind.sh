#!/usr/bin/env bash
# Runs `trtq-lite calibrate` under valgrind (memcheck) against the test-only stand-ins
# (trtsim for TensorRT, hostcuda for libcuda), so the Rust code, the C++ shim and the
# callbacks between them are all checked; fails on any definitely-lost block or memory error.
#
#   bash scripts/valgrind.sh            # every case below (about 70 s on 2 cores)
#   VALGRIND_CASES=normal bash scripts/valgrind.sh   # only cases whose name contains "normal"
#
# Each case: valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99,
# and the exit code must be the expected one (99 means valgrind found an error; its log is
# printed). "Still reachable" and "possibly lost" blocks (Rust's thread-local runtime data at
# process exit) are not errors. Normal paths are the point; a few failure paths (no device,
# builder or build failure, copy failure mid-calibration, a panicking callback) are checked too.
# Prints "N passed, N failed" and exits non-zero if any case failed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if ! command -v valgrind >/dev/null; then
  echo "valgrind not found: apt-get install valgrind" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
bash scripts/build-test-libs.sh >/dev/null
cargo build --quiet
bin="$root/target/debug/trtq-lite"
libs="$root/target/test-libs"
work="$(mktemp -d "${TMPDIR:-/tmp}/trtq-valgrind.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Calibration data: 16 samples of 3x64x64 float32 in 2 files of 8 (no NumPy needed).
mkdir -p "$work/data"
python3 "$root/scripts/calib-npy.py" "$work/data" 2

pass=0
fail=0
# case NAME EXPECTED_EXIT TRT_MAJOR [ENV=VALUE ...] -- [calibrate flags ...]
case_() {
  local name="$1" want="$2" major="$3"
  shift 3
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  if [ -n "${VALGRIND_CASES:-}" ] && [[ "$name" != *"$VALGRIND_CASES"* ]]; then return; fi
  local log="$work/$name.log" t0=$SECONDS rc=0
  env RUST_BACKTRACE=0 "${envs[@]}" valgrind --quiet --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --error-exitcode=99 --log-file="$log" \
    "$bin" calibrate fixtures/onnx/yolo_dynamic.onnx --data "$work/data" --batch-size 8 \
    --nvinfer "$libs/trtsim/$major" --cuda-lib "$libs/hostcuda/libcuda.so.1" --quiet \
    --cache "$work/$name.cache" --engine "$work/$name.engine" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  if [ "$rc" = "$want" ]; then
    pass=$((pass + 1))
    echo "ok   $name (exit $rc, $((SECONDS - t0)) s)"
  else
    fail=$((fail + 1))
    echo "FAIL $name: exit $rc, expected $want"
    sed 's/^/  valgrind: /' "$log"
    tail -n 5 "$work/$name.err" | sed 's/^/  stderr: /'
  fi
}

case_ normal-trt10-entropy2 0 10 -- --algo entropy2
case_ normal-trt8-minmax-staged 0 8 -- --algo minmax --feed staged
case_ normal-trt10-legacy 0 10 -- --algo legacy
case_ normal-trt8-entropy 0 8 -- --algo entropy
cp "$work/normal-trt10-entropy2.cache" "$work/normal-reuse.cache"
case_ normal-reuse 0 10 -- --algo entropy2
case_ normal-pageable-fallback 0 10 HOSTCUDA_HOSTALLOC_FAIL=1 --
case_ fail-no-device 1 10 HOSTCUDA_INIT_ERROR=100 --
case_ fail-builder 1 8 TRTSIM_FAIL=builder --
case_ fail-build 1 10 TRTSIM_FAIL=build --
case_ fail-htod-mid-calibration 1 8 HOSTCUDA_HTOD_FAIL_AFTER=1 -- --feed staged
case_ fail-getbatch-panic 1 10 TRTQ_TEST_PANIC=getbatch --

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
