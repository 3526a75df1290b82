#!/usr/bin/env bash
# README's first set-up command: builds trtq-lite and runs the main job, `calibrate`, on the
# bundled example (fixtures/example: a YOLO-style ONNX model with a dynamic batch and 20
# preprocessed .npy samples), then shows the calibration cache it wrote; then the whole
# Python-free pipeline from the example's 12 PNG images: prepare -> inspect-data -> calibrate.
#
# TensorRT: TRTQ_NVINFER_DIR if set, else a system libnvinfer if the loader knows one, else
# trtsim, the project's test simulator (the output then says so: the engine is not real).
# CUDA: TRTQ_LIBCUDA if set, else the system's libcuda.so.1, else the host-memory stand-in.
# The same calibrate command runs unchanged on a Jetson or server with TensorRT installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh
cargo build --release --quiet
bin="$root/target/release/trtq-lite"
out="$root/target/example"
mkdir -p "$out"

args=()
if [ -z "${TRTQ_NVINFER_DIR:-}" ] && ! ldconfig -p 2>/dev/null | grep -qE 'libnvinfer\.so\.(8|10) '; then
  bash scripts/build-test-libs.sh >/dev/null
  echo "example: no TensorRT found: using trtsim, the test simulator (target/test-libs/trtsim/10)"
  args+=(--nvinfer "$root/target/test-libs/trtsim/10")
fi
if [ -z "${TRTQ_LIBCUDA:-}" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
  bash scripts/build-test-libs.sh >/dev/null
  echo "example: no NVIDIA driver found: using the host-memory libcuda stand-in (no GPU work)"
  args+=(--cuda-lib "$root/target/test-libs/hostcuda/libcuda.so.1")
fi

set -x
"$bin" inspect-data fixtures/example/calib
"$bin" calibrate fixtures/example/model.onnx --data fixtures/example/calib --batch-size 8 \
  --cache "$out/calib.cache" --engine "$out/model.engine" "${args[@]}"
"$bin" inspect-cache "$out/calib.cache"

# The same, Python-free from images: prepare (Ultralytics letterbox) -> inspect-data -> calibrate.
"$bin" prepare fixtures/example/images -o "$out/calib_from_images" --imgsz 64 --force
"$bin" inspect-data "$out/calib_from_images"
"$bin" calibrate fixtures/example/model.onnx --data "$out/calib_from_images" --batch-size 4 \
  --cache "$out/images.cache" --engine "$out/images.engine" "${args[@]}"
