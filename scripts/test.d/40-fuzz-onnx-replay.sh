#!/usr/bin/env bash
# Replays the ONNX fuzz inputs through trtsim's ONNX reader under g++'s AddressSanitizer and
# UBSan: the seeds (fixtures/onnx, fuzz/seeds/onnx) and every input the onnx_reader fuzz
# target once crashed on (fixtures/fuzz/onnx). Same harness and properties as the fuzzer
# (fuzz/cpp/onnx_reader.cpp), driven by fuzz/cpp/replay_main.cpp instead of libFuzzer, so it
# needs only the C++ compiler CI already has. (The Rust fuzz inputs are replayed by
# tests/fuzz_inputs.rs.) Prints "N passed, N failed" last.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
echo "ONNX fuzz inputs replayed through trtsim's reader (ASan, UBSan)"
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
  if log="$("$out/onnx_reader_replay" "$f" 2>&1)"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $f"
    echo "$log" | tail -n 20
  fi
done
[ "$pass" -ge 8 ] || { echo "FAIL: only $pass inputs found (expected the fixtures at least)"; fail=$((fail + 1)); }
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
