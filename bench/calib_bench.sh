#!/usr/bin/env bash
# trtq-lite calibrate vs the seed's Python calibrator (bench/seed_calibrator.py), issue 6.
# One invocation on a GPU host with python3 + numpy + the NVIDIA driver; no Rust, no network.
# Built or downloaded beforehand, elsewhere, and carried with the checkout:
#   target/release/trtq-lite           cargo build --release
#   target/test-libs/trtsim/10/        bash scripts/build-test-libs.sh (trtsim plays TensorRT
#                                      for BOTH tools, so the caches can be compared)
#   .whl/tensorrt_cu12_bindings-10.*-cpXY-*.whl   NVIDIA's TensorRT Python bindings for the host's
#                                      Python (see README "Benchmark" for the pip download line)
# Usage (from the repository root):
#   bash bench/calib_bench.sh                 # ~3-4 minutes on an H200 (512 samples, estimated)
# Environment (all optional):
#   TRTQ_BIN      trtq-lite binary (default target/release/trtq-lite)
#   TRTSIM_DIR    trtsim's libnvinfer.so.10 folder (default target/test-libs/trtsim/10)
#   WHEEL_DIR     folder with the bindings wheel (default .whl)
#   LIBCUDA       libcuda to use for everything (default: the system's libcuda.so.1); the tests
#                 use target/test-libs/hostcuda/libcuda.so.1, the host-memory stand-in
#   BENCH_DIR     work folder (default /tmp/trtq-calib-bench; ~8 GB at 512 samples); removed at
#                 the end unless BENCH_KEEP=1. Its table.md and runs.jsonl are copied to
#                 BENCH_OUT if set.
#   BENCH_SAMPLES (512), BENCH_HW (640: samples are 3 x HW x HW f32), BENCH_BATCHES ("8 32"),
#   BENCH_COLD    auto (default: cold-cache rows when /proc/sys/vm/drop_caches is writable) or 0
#   BENCH_DEADLINE_S  (480) runs not started this many seconds after the start are skipped and
#                 listed, so the table still comes out inside a 10-minute limit
#   PYTHON        (python3)
# Exit status: 0 when every run succeeded and all caches are byte-identical, 1 otherwise, 2 for
# a missing input.
set -euo pipefail
export BENCH_T0="$(date +%s)"  # BENCH_DEADLINE_S (default 480) counts from here
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
PY="${PYTHON:-python3}"
export TRTQ_BIN="$(realpath -m "${TRTQ_BIN:-target/release/trtq-lite}")"
export TRTSIM_DIR="$(realpath -m "${TRTSIM_DIR:-target/test-libs/trtsim/10}")"
WHEEL_DIR="${WHEEL_DIR:-.whl}"
export BENCH_DIR="$(realpath -m "${BENCH_DIR:-/tmp/trtq-calib-bench}")"
export BENCH_SAMPLES="${BENCH_SAMPLES:-512}" BENCH_HW="${BENCH_HW:-640}" BENCH_BATCHES="${BENCH_BATCHES:-8 32}"
export BENCH_COLD="${BENCH_COLD:-auto}" BENCH_ROOT="$root"
if [ -n "${LIBCUDA:-}" ]; then export LIBCUDA="$(realpath -m "$LIBCUDA")"; fi

die() { echo "calib_bench: $*" >&2; exit 2; }
[ -x "$TRTQ_BIN" ] || die "TRTQ_BIN=$TRTQ_BIN is not an executable (cargo build --release, then carry it)"
[ -f "$TRTSIM_DIR/libnvinfer.so.10" ] || die "TRTSIM_DIR=$TRTSIM_DIR has no libnvinfer.so.10 (bash scripts/build-test-libs.sh)"
"$PY" -c 'import numpy' 2>/dev/null || die "$PY has no numpy"
if [ -n "${LIBCUDA:-}" ]; then [ -f "$LIBCUDA" ] || die "LIBCUDA=$LIBCUDA does not exist"; fi
for b in $BENCH_BATCHES; do
  [ $((BENCH_SAMPLES % b)) -eq 0 ] || die "BENCH_SAMPLES=$BENCH_SAMPLES is not a multiple of batch $b (both tools must feed the same batches)"
done

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
export BENCH_SITE="$BENCH_DIR/site"

# The bindings wheel for this Python (cpXY): the newest 10.x that installs and imports here
# (10.16 wheels need glibc 2.28; 10.3 ones 2.17).
tag="$("$PY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')"
whl=""
for w in $(ls "$WHEEL_DIR"/tensorrt_cu12_bindings-10.*-"$tag"-*.whl 2>/dev/null | sort -rV); do
  rm -rf "$BENCH_SITE"
  if ! "$PY" -m pip --disable-pip-version-check -q install --no-index --no-deps --target "$BENCH_SITE" "$w" 2>"$BENCH_DIR/pip.err"; then
    # A wheel is a zip; a --no-deps install of this one is its extraction.
    echo "calib_bench: pip failed for $(basename "$w") ($(tail -1 "$BENCH_DIR/pip.err")); extracting it instead"
    "$PY" -m zipfile -e "$w" "$BENCH_SITE"
  fi
  if PYTHONPATH="$BENCH_SITE" LD_LIBRARY_PATH="$TRTSIM_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
      "$PY" -c 'import tensorrt_bindings' 2>"$BENCH_DIR/import.err"; then
    whl="$w"
    break
  fi
  echo "calib_bench: $(basename "$w") does not import here: $(tail -1 "$BENCH_DIR/import.err")"
done
[ -n "$whl" ] || die "no importable tensorrt_cu12_bindings-10.*-$tag-*.whl in WHEEL_DIR=$WHEEL_DIR"
ver="$(basename "$whl" | cut -d- -f2)"
IFS=. read -r vmaj vmin vpat _ <<<"$ver"
# trtsim reports the version the wheel was built for (both tools see the same TensorRT).
export TRTSIM_VERSION=$((vmaj * 10000 + vmin * 100 + vpat))
echo "== $(date -u +%FT%TZ) bindings $(basename "$whl") -> TRTSIM_VERSION=$TRTSIM_VERSION; libcuda ${LIBCUDA:-libcuda.so.1 (system)}"
"$TRTQ_BIN" doctor --nvinfer "$TRTSIM_DIR" ${LIBCUDA:+--cuda-lib "$LIBCUDA"} || true

echo "== model and data ($BENCH_SAMPLES samples of 3x${BENCH_HW}x${BENCH_HW} f32, per-sample files and one file) in $BENCH_DIR"
t0=$(date +%s)
"$PY" bench/make_model.py "$BENCH_DIR/model.onnx" --hw "$BENCH_HW"
"$PY" - "$BENCH_DIR" "$BENCH_SAMPLES" "$BENCH_HW" "$BENCH_BATCHES" <<'PY'
import os, sys, numpy as np
d, n, hw, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [int(b) for b in sys.argv[4].split()]
os.makedirs(f"{d}/files")
rng = np.random.default_rng(6)
a = rng.random((n, 3, hw, hw), dtype=np.float32)
a[:, :, 0, 0] = 1.5  # a few outliers, so entropy calibration has a tail to cut
np.save(f"{d}/big.npy", a)
for i in range(n):
    np.save(f"{d}/files/img_{i:05d}.npy", a[i])
np.save(f"{d}/tiny.npy", rng.random((max(batches), 3, 64, 64), dtype=np.float32))
PY
echo "   $(( $(date +%s) - t0 )) s"

rc=0
"$PY" bench/calib_bench.py || rc=$?
if [ -n "${BENCH_OUT:-}" ]; then
  mkdir -p "$BENCH_OUT"
  cp "$BENCH_DIR/table.md" "$BENCH_DIR/runs.jsonl" "$BENCH_OUT/" 2>/dev/null || true
  tar -C "$BENCH_DIR" -czf "$BENCH_OUT/calib-bench-logs.tgz" logs caches 2>/dev/null || true
fi
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$BENCH_DIR"
exit "$rc"
