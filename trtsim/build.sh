#!/usr/bin/env bash
# Builds trtsim, the TensorRT simulator for tests (never shipped), into
#   $TEST_LIBS/trtsim/8/  libnvinfer.so.8 libnvonnxparser.so.8 libnvinfer_plugin.so.8 libnvparsers.so.8
#   $TEST_LIBS/trtsim/10/ libnvinfer.so.10 libnvonnxparser.so.10 libnvinfer_plugin.so.10
# (TEST_LIBS defaults to target/test-libs). CXX (default c++) and PYTHON (default python3) may be
# set. The TensorRT classes are compiled against OUR declarations shim/abi/trt8.hpp and
# trt10.hpp; gen_stubs.py derives the full-vtable base classes from them with the compiler.
# Rebuilds only what is older than its sources.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="${TEST_LIBS:-$root/target/test-libs}/trtsim"
obj="$out/obj"
cxx="${CXX:-c++}"
py="${PYTHON:-python3}"
src="$here/src"
mkdir -p "$obj" "$out/8" "$out/10"
flags=(-std=c++17 -O2 -g -fPIC -fvisibility=hidden -Wall -Wextra -Werror -I"$src" -I"$obj" -I"$root/shim/abi")

# stale TARGET DEP... : true when TARGET is missing or older than any DEP
stale() {
  local t="$1"; shift
  [ -f "$t" ] || return 0
  local d
  for d in "$@"; do [ "$d" -nt "$t" ] && return 0; done
  return 1
}

for unit in core onnx; do
  if stale "$obj/$unit.o" "$src/$unit.cpp" "$src/core.hpp" "$0"; then
    $cxx "${flags[@]}" -c "$src/$unit.cpp" -o "$obj/$unit.o"
  fi
done

for major in 8 10; do
  hdr="$root/shim/abi/trt$major.hpp"
  dir="$out/$major"
  if stale "$obj/stubs$major.hpp" "$hdr" "$here/gen_stubs.py"; then
    "$py" "$here/gen_stubs.py" "$cxx" "$hdr" "$obj/stubs$major.hpp"
  fi
  lib="$dir/libnvinfer.so.$major"
  if stale "$lib" "$src/abi.cpp" "$src/core.hpp" "$obj/stubs$major.hpp" "$hdr" "$obj/core.o" "$obj/onnx.o" "$0"; then
    $cxx "${flags[@]}" -DTRTSIM_MAJOR=$major -shared -Wl,-soname,libnvinfer.so.$major -Wl,--no-undefined \
      -o "$lib.tmp" "$src/abi.cpp" "$obj/core.o" "$obj/onnx.o" -ldl -lpthread
    mv "$lib.tmp" "$lib"
  fi
  parser="$dir/libnvonnxparser.so.$major"
  if stale "$parser" "$src/parser.cpp" "$lib" "$0"; then
    $cxx "${flags[@]}" -shared -Wl,-soname,libnvonnxparser.so.$major -Wl,--no-undefined \
      -o "$parser.tmp" "$src/parser.cpp" -L"$dir" -l:libnvinfer.so.$major -Wl,-rpath,'$ORIGIN'
    mv "$parser.tmp" "$parser"
  fi
  plugin="$dir/libnvinfer_plugin.so.$major"
  if stale "$plugin" "$src/plugin.cpp" "$0"; then
    $cxx "${flags[@]}" -shared -Wl,-soname,libnvinfer_plugin.so.$major -o "$plugin.tmp" "$src/plugin.cpp"
    mv "$plugin.tmp" "$plugin"
  fi
  for name in libnvinfer libnvonnxparser libnvinfer_plugin; do ln -sf "$name.so.$major" "$dir/$name.so"; done
done
if stale "$out/8/libnvparsers.so.8" "$src/nvparsers.cpp" "$0"; then
  $cxx "${flags[@]}" -shared -Wl,-soname,libnvparsers.so.8 -o "$out/8/libnvparsers.so.8.tmp" "$src/nvparsers.cpp"
  mv "$out/8/libnvparsers.so.8.tmp" "$out/8/libnvparsers.so.8"
fi
ln -sf libnvparsers.so.8 "$out/8/libnvparsers.so"
echo "trtsim: $out/8 $out/10"
