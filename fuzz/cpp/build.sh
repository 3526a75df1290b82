#!/usr/bin/env bash
# Builds the C++ fuzz target for trtsim's ONNX reader (trtsim/src/onnx.cpp) into
# ${FUZZ_CPP_OUT:-<repo>/target/fuzz-cpp}/:
#   onnx_reader         libFuzzer binary (clang++ -fsanitize=fuzzer,address,undefined); skipped
#                       with a note when clang++ or its libFuzzer runtime is missing;
#   onnx_reader_replay  the same target driven by replay_main.cpp over files, built with
#                       ${CXX:-c++} -fsanitize=address,undefined (what scripts/test.d runs);
#   onnx_import_replay_8, onnx_import_replay_10  onnx_import.cpp the same way, linked against
#                       the ordinary trtsim test libraries (${TEST_LIBS:-target/test-libs});
#   onnx_import_8, onnx_import_10 ("import", not part of "all")  libFuzzer binaries for the
#                       whole simulated IParser::parse, linked against a copy of trtsim built
#                       by trtsim/build.sh with clang++ and ASan/UBSan/coverage into
#                       $out/trtsim-asan/ (the vtable stubs are generated with ${CXX:-c++}:
#                       gen_stubs.py reads GCC's diagnostics).
# Usage: fuzz/cpp/build.sh [fuzzer|replay|import|all]   (default all = fuzzer + replay)
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
    "$clang" "${common[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DFUZZ_PROTO_MUTATOR \
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
  # The import target against the ordinary trtsim test libraries (scripts/build-test-libs.sh):
  # the sanitizers watch the harness, its property checks watch what the library returns.
  tl="${TEST_LIBS:-$root/target/test-libs}/trtsim"
  for major in 8 10; do
    if [ -f "$tl/$major/libnvinfer.so.$major" ]; then
      "${CXX:-c++}" "${common[@]}" -DTRT_MAJOR=$major -I"$root/shim/abi" -fsanitize=address,undefined \
        -fno-sanitize-recover=all -I"$root/trtsim/src" "$here/onnx_import.cpp" "$root/trtsim/src/onnx.cpp" "$here/replay_main.cpp" \
        -L"$tl/$major" -l:libnvinfer.so.$major -l:libnvonnxparser.so.$major -Wl,-rpath,"$tl/$major" \
        -o "$out/onnx_import_replay_$major.tmp"
      mv "$out/onnx_import_replay_$major.tmp" "$out/onnx_import_replay_$major"
      echo "built $out/onnx_import_replay_$major"
    else
      echo "note: no $tl/$major/libnvinfer.so.$major (run scripts/build-test-libs.sh): onnx_import_replay_$major not built" >&2
    fi
  done
fi
if [ "$what" = import ]; then
  clang="${CLANGXX:-clang++}"
  command -v "$clang" >/dev/null || { echo "no $clang (apt-get install clang)" >&2; exit 1; }
  libs="$out/trtsim-asan"
  mkdir -p "$libs/trtsim/obj"
  # trtsim/build.sh adds -Werror (clang warns where GCC does not) and -Wl,--no-undefined (the
  # sanitizer runtimes live in the fuzzer executable); the wrapper appends the overrides.
  cat >"$out/cxx-asan" <<WRAP
#!/bin/sh
exec "$clang" "\$@" -fsanitize=address,undefined -fsanitize=fuzzer-no-link -Wno-error -Wl,-z,undefs
WRAP
  chmod +x "$out/cxx-asan"
  for major in 8 10; do
    stubs="$libs/trtsim/obj/stubs$major.hpp"
    hdr="$root/shim/abi/trt$major.hpp"
    if [ ! -f "$stubs" ] || [ "$hdr" -nt "$stubs" ] || [ "$root/trtsim/gen_stubs.py" -nt "$stubs" ]; then
      "${PYTHON:-python3}" "$root/trtsim/gen_stubs.py" "${CXX:-c++}" "$hdr" "$stubs"
    fi
  done
  TEST_LIBS="$libs" CXX="$out/cxx-asan" bash "$root/trtsim/build.sh" >/dev/null
  for major in 8 10; do
    "$clang" "${common[@]}" -DTRT_MAJOR=$major -I"$root/shim/abi" -fsanitize=fuzzer,address,undefined -DFUZZ_PROTO_MUTATOR \
      "$here/onnx_import.cpp" "$root/trtsim/src/onnx.cpp" -L"$libs/trtsim/$major" -l:libnvinfer.so.$major -l:libnvonnxparser.so.$major \
      -Wl,-rpath,"$libs/trtsim/$major" -o "$out/onnx_import_$major.tmp"
    mv "$out/onnx_import_$major.tmp" "$out/onnx_import_$major"
    echo "built $out/onnx_import_$major"
  done
fi
