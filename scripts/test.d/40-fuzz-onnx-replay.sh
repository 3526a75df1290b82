#!/usr/bin/env bash
# Replays the ONNX fuzz inputs under g++'s AddressSanitizer and UBSan: the seeds (fixtures/onnx,
# fuzz/seeds/onnx) and every input an ONNX fuzz target once crashed on (fixtures/fuzz/onnx),
# each through trtsim's ONNX reader (fuzz/cpp/onnx_reader.cpp) and through the whole simulated
# IParser::parse of the 8.x and 10.x trtsim libraries (fuzz/cpp/onnx_import.cpp). Same
# harnesses and properties as the fuzzers, driven by fuzz/cpp/replay_main.cpp instead of
# libFuzzer, so it needs only the C++ compiler CI already has. (The Rust fuzz inputs are replayed by
# tests/fuzz_inputs.rs.) Prints "N passed, N failed" last.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
echo "ONNX fuzz inputs replayed through trtsim's reader and IParser::parse (ASan, UBSan)"
[ -f target/test-libs/trtsim/10/libnvinfer.so.10 ] || bash scripts/build-test-libs.sh >/dev/null
out="$root/target/fuzz-cpp"
if ! FUZZ_CPP_OUT="$out" bash fuzz/cpp/build.sh replay >/dev/null; then
  echo "FAIL: could not build the replay binary"
  echo "0 passed, 1 failed"
  exit 1
fi
# Leak checking needs ptrace-like access some CI containers deny; the reader holds only
# std containers, and the libFuzzer runs check leaks.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
pass=0 fail=0
shopt -s nullglob
for f in fixtures/onnx/* fuzz/seeds/onnx/* fixtures/fuzz/onnx/*; do
  [ -f "$f" ] || continue
  for bin in onnx_reader_replay onnx_import_replay_8 onnx_import_replay_10; do
    if [ ! -x "$out/$bin" ]; then
      fail=$((fail + 1))
      echo "FAIL: $bin was not built"
    elif log="$("$out/$bin" "$f" 2>&1)"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1))
      echo "FAIL: $bin $f"
      echo "$log" | tail -n 20
    fi
  done
done
[ "$pass" -ge 24 ] || { echo "FAIL: only $pass inputs found (expected the fixtures at least)"; fail=$((fail + 1)); }
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
