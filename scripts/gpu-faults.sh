#!/usr/bin/env bash
# The driver-side faults of tests/faults.rs against a REAL libcuda (GPU host), with trtsim as
# TensorRT (no TensorRT needed: trtsim reads the calibration batches back through libcuda's
# cuMemcpyDtoH_v2, so the device pointers the feed hands over are checked on the real GPU).
# Needs: a trtq-lite binary and trtsim built elsewhere (no Rust or compiler on the GPU host),
# python3, the NVIDIA driver. Usage, from the repository root:
#
#   TRTQ_BIN=target/release/trtq-lite TRTSIM_DIR=target/test-libs/trtsim/10 bash scripts/gpu-faults.sh
#
# Cases: a normal run per feed mode (exit 0, outputs written); CUDA_VISIBLE_DEVICES= (the real
# cuInit fails: exit 1, CUDA_ERROR_NO_DEVICE named); a device ordinal past the last GPU (exit 2);
# SIGKILL before the engine's rename (previous engine intact). Failing runs must leave the
# pre-existing engine and cache byte for byte, and no temporary file. Prints "N passed, N failed".
set -euo pipefail
BIN="${TRTQ_BIN:-target/release/trtq-lite}"
SIM="${TRTSIM_DIR:-target/test-libs/trtsim/10}"
[ -x "$BIN" ] || { echo "TRTQ_BIN=$BIN is not an executable"; exit 2; }
[ -e "$SIM/libnvinfer.so.10" ] || [ -e "$SIM/libnvinfer.so.8" ] || { echo "TRTSIM_DIR=$SIM has no trtsim"; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
model="$root/fixtures/onnx/yolo_dynamic.onnx"
work="$(mktemp -d "${TMPDIR:-/tmp}/trtq-gpu-faults.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data" "$work/out"
python3 "$root/scripts/calib-npy.py" "$work/data" 4
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; sed 's/^/  stderr: /' "$work/err"; }
calib() { # calibrate with the outputs in $work/out; extra flags in "$@"
  "$BIN" calibrate "$model" --data "$work/data" --batch-size 8 --nvinfer "$SIM" --quiet \
    --cache "$work/out/c.cache" --engine "$work/out/m.engine" "$@"
}
precreate() {
  rm -f "$work/out"/* "$work/out"/.[!.]* 2>/dev/null || true
  calib --algo minmax >/dev/null 2>"$work/err"
  printf 'previous engine\n' >"$work/out/m.engine"
  cp "$work/out/c.cache" "$work/old.cache"
}
untouched() {
  cmp -s "$work/out/c.cache" "$work/old.cache" && [ "$(cat "$work/out/m.engine")" = "previous engine" ] &&
    [ -z "$(ls -A "$work/out" | grep '^\.' || true)" ]
}

for feed in auto staged registered; do
  rm -f "$work/out"/*
  rc=0; calib --feed "$feed" >"$work/out.txt" 2>"$work/err" || rc=$?
  if [ $rc = 0 ] && grep -q "batches:      4 x 8" "$work/out.txt"; then ok "normal run, --feed $feed"; else bad "normal run, --feed $feed (exit $rc)"; fi
done

precreate
rc=0; CUDA_VISIBLE_DEVICES= calib >/dev/null 2>"$work/err" || rc=$?
if [ $rc = 1 ] && grep -q "cuInit(0) failed: CUDA_ERROR_NO_DEVICE (100)" "$work/err" && untouched; then
  ok "no visible device"; else bad "no visible device (exit $rc)"; fi

precreate
rc=0; calib --device 64 >/dev/null 2>"$work/err" || rc=$?
if [ $rc = 2 ] && grep -q -- "--device 64: this machine has" "$work/err" && untouched; then
  ok "device ordinal past the last GPU"; else bad "device ordinal past the last GPU (exit $rc)"; fi

precreate
# `exec` in a subshell: $! is then trtq-lite itself, not a shell around it.
(TRTQ_TEST_PAUSE_BEFORE_RENAME="$work/out/m.engine" exec "$BIN" calibrate "$model" --data "$work/data" \
  --batch-size 8 --nvinfer "$SIM" --quiet --cache "$work/out/c.cache" --engine "$work/out/m.engine" \
  >/dev/null 2>"$work/err") &
pid=$!
for _ in $(seq 600); do grep -q "paused before renaming" "$work/err" && break; sleep 0.1; done
kill -9 $pid; wait $pid 2>/dev/null || true
if [ "$(cat "$work/out/m.engine")" = "previous engine" ] && ls -A "$work/out" | grep -q "^\.m\.engine\.$pid\..*\.tmp$"; then
  ok "SIGKILL before the engine's rename"; else bad "SIGKILL before the engine's rename"; fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
