#!/usr/bin/env bash
# Line coverage of the fuzzed code reached by a target's working corpus (fuzz/corpus/<target>,
# seeds included), as an llvm-cov report restricted to the files under test.
#   fuzz/coverage.sh npy_bytes|npy_header|npy_open|cache_parse|onnx_reader
# Rust targets: `cargo fuzz coverage` (needs `rustup component add --toolchain nightly
# llvm-tools-preview`); onnx_reader: clang source-based coverage of trtsim/src/onnx.cpp through
# cpp/replay_main.cpp (needs clang and llvm-cov/llvm-profdata of the same version).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
t="${1:?usage: fuzz/coverage.sh TARGET}"
cd "$here"
case "$t" in
  onnx_reader)
    out="$root/target/fuzz-cpp/coverage"
    mkdir -p "$out"
    clang="${CLANGXX:-clang++}"
    ver="$("$clang" --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n1)"
    bin="$(dirname "$(readlink -f "$(command -v "$clang")")")"
    "$clang" -std=c++17 -O0 -fprofile-instr-generate -fcoverage-mapping -I"$root/trtsim/src" \
      cpp/onnx_reader.cpp "$root/trtsim/src/onnx.cpp" cpp/replay_main.cpp -o "$out/onnx_reader_cov"
    rm -f "$out"/*.profraw
    LLVM_PROFILE_FILE="$out/%p.profraw" "$out/onnx_reader_cov" "corpus/$t" "$root/fixtures/onnx" >/dev/null
    "$bin/llvm-profdata" merge -sparse "$out"/*.profraw -o "$out/onnx_reader.profdata" 2>/dev/null ||
      "llvm-profdata-$ver" merge -sparse "$out"/*.profraw -o "$out/onnx_reader.profdata"
    cov="$bin/llvm-cov"; [ -x "$cov" ] || cov="llvm-cov-$ver"
    "$cov" report "$out/onnx_reader_cov" -instr-profile="$out/onnx_reader.profdata" "$root/trtsim/src/onnx.cpp"
    ;;
  npy_*|cache_parse)
    s=none  # coverage needs no sanitizer
    cargo +nightly fuzz coverage -s "$s" "$t" "corpus/$t" >/dev/null
    sysroot="$(rustc +nightly --print sysroot)"
    tools="$(echo "$sysroot"/lib/rustlib/*/bin)"
    trip="$(rustc +nightly -vV | sed -n 's/^host: //p')"
    src="$root/src/npy.rs"; [ "$t" = cache_parse ] && src="$root/src/cache.rs"
    "$tools/llvm-cov" report "target/$trip/coverage/$trip/release/$t" \
      -instr-profile="coverage/$t/coverage.profdata" "$src"
    ;;
  *) echo "unknown target $t" >&2; exit 2 ;;
esac
