#!/usr/bin/env bash
# The two ABI builds of the shim (shim/trtq_shim8.cpp, shim/trtq_shim10.cpp) are linked into
# one binary and both declare TensorRT's official class names, with different layouts. Any
# out-of-line copy of a header-inline TensorRT function that both objects define would be
# merged by the linker into ONE body for both ABIs (e.g. a wrapper's forwarding method
# calling the 10.x slot on an 8.x object). shim_impl.inc therefore never calls wrapper
# methods. This test compiles both objects without optimisation (nothing inlined), lists
# the symbols both define, and fails on any TensorRT name other than the two known,
# harmless ones: ILogger (identical in both sets) and IInt8Calibrator's constructor,
# destructor, vtable and typeinfo (used only while our calibrator objects are built and torn
# down; see shim_impl.inc), plus std:: templates instantiated over POINTERS to TensorRT
# classes (pointer code does not depend on the layout). It also plants a wrapper call and checks that it is caught.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cxx="${CXX:-c++}"
work="$root/target/shim-symbols"
rm -rf "$work"
mkdir -p "$work"
passed=0
failed=0

# shared_tensorrt_symbols <dir with trtq_shim8.cpp, trtq_shim10.cpp, shim_impl.inc ...>
shared_tensorrt_symbols() {
  local src="$1" out="$2" a
  for a in 8 10; do
    "$cxx" -std=c++17 -O0 -fPIC -I"$src" -I"$root/shim" -c "$src/trtq_shim$a.cpp" -o "$out/s$a.o"
    nm --defined-only "$out/s$a.o" | awk 'NF == 3 && $2 ~ /^[TWwVvDRBu]$/ { print $3 }' | sort -u >"$out/s$a.syms"
  done
  comm -12 "$out/s8.syms" "$out/s10.syms" | c++filt | grep -E 'nvinfer1::|nvonnxparser::' |
    grep -vE '^(typeinfo for |typeinfo name for |vtable for )?nvinfer1::(ILogger|IInt8Calibrator)(::(ILogger|IInt8Calibrator|~ILogger|~IInt8Calibrator)\(\))?$' |
    awk '{ rest = $0; gsub(/nvinfer1::[A-Za-z0-9_]+\*/, "PTR", rest) }
         # std:: templates over pointers to TensorRT classes: same code whatever the layout
         $0 ~ /std::/ && rest !~ /nvinfer1::|nvonnxparser::/ { next }
         { print }' || true
}

mkdir -p "$work/real"
bad="$(shared_tensorrt_symbols "$root/shim" "$work/real")"
if [ -z "$bad" ]; then
  echo "PASS the 8.x and 10.x shim objects share no TensorRT function but ILogger/IInt8Calibrator basics"
  passed=$((passed + 1))
else
  echo "FAIL TensorRT symbols defined by both shim builds (the linker would keep one body for both ABIs):"
  echo "$bad" | sed 's/^/    /'
  failed=$((failed + 1))
fi

# Planted: call the wrapper's inline getNbInputs() instead of going through mImpl.
mkdir -p "$work/planted"
cp "$root/shim/trtq_shim8.cpp" "$root/shim/trtq_shim10.cpp" "$work/planted/"
sed 's/\*out = impl(session_of(session)->network)->getNbInputs();/*out = session_of(session)->network->getNbInputs();/' \
  "$root/shim/shim_impl.inc" >"$work/planted/shim_impl.inc"
if cmp -s "$root/shim/shim_impl.inc" "$work/planted/shim_impl.inc"; then
  echo "FAIL planted wrapper call: could not plant (line not found)"
  failed=$((failed + 1))
else
  bad="$(shared_tensorrt_symbols "$work/planted" "$work/planted")"
  if grep -q 'nvinfer1::INetworkDefinition::getNbInputs() const' <<<"$bad"; then
    echo "PASS a planted wrapper call (INetworkDefinition::getNbInputs) is reported"
    passed=$((passed + 1))
  else
    echo "FAIL a planted wrapper call was not reported"
    failed=$((failed + 1))
  fi
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
