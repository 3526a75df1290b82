#!/usr/bin/env bash
# Builds the C++ fuzz target for trtsim's ONNX reader (trtsim/src/onnx.cpp) into
# ${FUZZ_CPP_OUT:-<repo>/target/fuzz-cpp}/:
#   onnx_reader         libFuzzer binary (clang++ -fsanitize=fuzzer,address,undefined); skipped
#                       with a note when clang++ or its libFuzzer runtime is missing;
#   onnx_reader_replay  the same target driven by replay_main.cpp over files, built with
#                       ${CXX:-c++} -fsanitize=address,undefined (what scripts/test.d runs).
# Usage: fuzz/cpp/build.sh [fuzzer|replay|all]   (default all)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${FUZZ_CPP_OUT:-$root/target/fuzz-cpp}"
what="${1:-all}"
mkdir -p "$out"
src=("$here/onnx_reader.cpp" "$root/trtsim/src/onnx.cpp")
common=(-std=c++17 -g -O1 -fno-omit-frame-pointer -I"$root/trtsim/src" -Wall -Wextra)
if [ "$what" = all ] || [ "$what" = fuzzer ]; then
  clang="${CLANGXX:-clang++}"
  if command -v "$clang" >/dev/null; then
    "$clang" "${common[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      "${src[@]}" -o "$out/onnx_reader.tmp"
    mv "$out/onnx_reader.tmp" "$out/onnx_reader"
    echo "built $out/onnx_reader"
  else
    echo "note: no $clang: the libFuzzer binary was not built (apt-get install clang)" >&2
    [ "$what" = fuzzer ] && exit 1
  fi
fi
if [ "$what" = all ] || [ "$what" = replay ]; then
  "${CXX:-c++}" "${common[@]}" -fsanitize=address,undefined -fno-sanitize-recover=all \
    "${src[@]}" "$here/replay_main.cpp" -o "$out/onnx_reader_replay.tmp"
  mv "$out/onnx_reader_replay.tmp" "$out/onnx_reader_replay"
  echo "built $out/onnx_reader_replay"
fi
