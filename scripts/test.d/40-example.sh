#!/usr/bin/env bash
# The bundled example (README's first set-up command): its files are what fixtures/example/make.py
# writes, and `calibrate` runs on it (debug build, trtsim 10 + the host libcuda stand-in) and
# writes a cache that inspect-cache reads. A cheap CI stand-in for scripts/example.sh, which
# builds a release binary.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
bin=target/debug/trtq-lite
pass=0 fail=0
check() { # name, command...
  local name=$1; shift
  if "$@" >/tmp/trtq-example.$$ 2>&1; then pass=$((pass + 1)); echo "  ok   $name"
  else fail=$((fail + 1)); echo "  FAIL $name"; sed 's/^/       /' /tmp/trtq-example.$$; fi
}
out=$(mktemp -d)
check "fixtures/example is what make.py writes" python3 fixtures/example/make.py --check
check "calibrate the example" "$bin" calibrate fixtures/example/model.onnx --data fixtures/example/calib \
  --batch-size 8 --cache "$out/calib.cache" --engine "$out/model.engine" \
  --nvinfer target/test-libs/trtsim/10 --cuda-lib target/test-libs/hostcuda/libcuda.so.1 --quiet
check "the cache is a TensorRT 10.3 EntropyCalibration2 cache" \
  grep -qx 'TRT-100300-EntropyCalibration2' <(head -1 "$out/calib.cache")
check "inspect-cache reads it" "$bin" inspect-cache "$out/calib.cache"
check "the engine is a trtsim plan" grep -q TRTSIM "$out/model.engine"
check "prepare the example images" "$bin" prepare fixtures/example/images -o "$out/from_images" --imgsz 64 -q
check "12 samples in 0..1 from prepare" bash -c "'$bin' inspect-data --json '$out/from_images' | python3 -c 'import json,sys; s=json.load(sys.stdin)[\"sources\"][0]; assert s[\"samples\"]==12 and 0<=s[\"min\"] and s[\"max\"]<=1, s'"
check "calibrate from the prepared images" "$bin" calibrate fixtures/example/model.onnx --data "$out/from_images" \
  --batch-size 4 --cache "$out/images.cache" --engine "$out/images.engine" \
  --nvinfer target/test-libs/trtsim/10 --cuda-lib target/test-libs/hostcuda/libcuda.so.1 --quiet
check "its cache covers the input" grep -q '^images: ' "$out/images.cache"
rm -rf "$out" /tmp/trtq-example.$$
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
