#!/usr/bin/env bash
# Conformance of trtsim (built from OUR TensorRT declarations, shim/abi/) with NVIDIA's compiled
# TensorRT Python bindings. Installs, with --no-deps, the cp311 wheels
#   tensorrt-bindings==8.6.1, tensorrt-cu12-bindings==10.3.0, tensorrt-cu12-bindings==10.16.1.11
# (the newest 10.x on PyPI when written; override with TRT_NEWEST_10) plus numpy and onnx into
# target/conformance/ (wheels cached in target/conformance/wheels, so reruns work offline), then
# runs tests/conformance/conformance.py once per (wheel, TRTSIM_VERSION), each in its own
# process, with trtsim and hostcuda's libcuda.so.1 on LD_LIBRARY_PATH. Also checks the ONNX
# fixtures (generator staleness, onnx.checker). Prints "N passed, N failed" last.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
shared="${SHARED_DIR:-$root/../shared}"
[ -d "$shared" ] || shared=/work/shared
export SHARED_DIR="$shared"
py="${PYTHON:-python3}"
conf="$root/target/conformance"
wheels="$conf/wheels"
newest10="${TRT_NEWEST_10:-10.16.1.11}"
mkdir -p "$wheels"
libs="$root/target/test-libs"
[ -f "$libs/trtsim/8/libnvinfer.so.8" ] && [ -f "$libs/hostcuda/libcuda.so.1" ] || bash scripts/build-test-libs.sh >/dev/null

pip_() { "$py" -m pip --disable-pip-version-check -q "$@"; }

# tensorrt_bindings wheels: one --target folder each (they share the package name).
install_trt() { # pip-name version -> prints the folder
  local name="$1" ver="$2" dir="$conf/trt-$2"
  if [ ! -f "$dir/tensorrt_bindings/tensorrt.so" ]; then
    local whl
    whl="$(ls "$wheels"/"${name//-/_}"-"$ver"-cp311-*.whl 2>/dev/null | head -1 || true)"
    if [ -z "$whl" ]; then
      pip_ download --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_17_x86_64 -d "$wheels" "$name==$ver" >&2
      whl="$(ls "$wheels"/"${name//-/_}"-"$ver"-cp311-*.whl | head -1)"
    fi
    rm -rf "$dir"
    pip_ install --no-deps --no-index --target "$dir" "$whl" >&2
  fi
  echo "$dir"
}

deps="$conf/pydeps"
if [ ! -d "$deps/numpy" ] || [ ! -d "$deps/onnx" ]; then
  pip_ install --no-index --find-links "$wheels" --target "$deps" numpy onnx 2>/dev/null || {
    pip_ download -d "$wheels" numpy onnx
    pip_ install --no-index --find-links "$wheels" --target "$deps" numpy onnx
  }
fi

passed=0
failed=0
tally() { # log file
  local line
  line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -1 || true)"
  if [ -z "$line" ]; then
    failed=$((failed + 1))
    echo "  (no result line: counted as 1 failure)"
  else
    passed=$((passed + ${line%% passed*}))
    local f="${line#*, }"
    failed=$((failed + ${f%% failed}))
  fi
}

# ONNX fixtures: committed files equal the generator's output, and onnx.checker accepts the
# valid ones and rejects the malformed ones.
fx="$conf/fixtures.log"
PYTHONPATH="$deps" "$py" - >"$fx" 2>&1 <<'PY' || true
import subprocess, sys, onnx
ok = bad = 0
def check(cond, what):
    global ok, bad
    print(("  ok   " if cond else "  FAIL ") + what)
    if cond: ok += 1
    else: bad += 1
r = subprocess.run([sys.executable, "fixtures/onnx/make_models.py", "--check"], capture_output=True, text=True)
check(r.returncode == 0, "fixtures/onnx/*.onnx match make_models.py " + r.stdout.strip())
for name, valid in [("yolo_static", True), ("yolo_dynamic", True), ("two_inputs", True), ("int_input", True),
                    ("unsupported_op", False), ("truncated", False), ("no_graph", False)]:
    try:
        onnx.checker.check_model(onnx.load("fixtures/onnx/%s.onnx" % name), full_check=True)
        res = True
    except Exception:
        res = False
    check(res == valid, "onnx.checker %s %s" % ("accepts" if valid else "rejects", name))
m = onnx.load("fixtures/onnx/yolo_dynamic.onnx")
d = m.graph.input[0].type.tensor_type.shape.dim
check([x.dim_param or x.dim_value for x in d] == ["batch", 3, 64, 64], "yolo_dynamic input dims batch x 3 x 64 x 64")
print("%d passed, %d failed" % (ok, bad))
PY
echo "== ONNX fixtures"
cat "$fx"
tally "$fx"

run_case() { # wheel-folder TRTSIM_VERSION major
  local dir="$1" ver="$2" major="$3" log="$conf/run-$(basename "$1")-$2.log"
  echo "== conformance $(basename "$dir") TRTSIM_VERSION=$ver"
  set +e
  PYTHONPATH="$dir:$deps" LD_LIBRARY_PATH="$libs/trtsim/$major:$libs/hostcuda${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    TRTSIM_VERSION="$ver" "$py" -W ignore::DeprecationWarning tests/conformance/conformance.py >"$log" 2>&1
  set -e
  cat "$log"
  tally "$log"
}

d8="$(install_trt tensorrt-bindings 8.6.1)"
d103="$(install_trt tensorrt-cu12-bindings 10.3.0)"
dnew="$(install_trt tensorrt-cu12-bindings "$newest10")"
run_case "$d8" 8601 8
run_case "$d8" 8502 8
run_case "$d103" 100300 10
run_case "$dnew" 101600 10

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
