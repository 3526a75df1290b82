#!/usr/bin/env bash
# Checks the hand-written TensorRT declarations (shim/abi/trt8.hpp, shim/abi/trt10.hpp)
# against the ABI facts read off NVIDIA's official headers (shared/abi-facts).
#
# For each declaration set it compiles the reviewer probe (shared/abi-facts/tools) against
# our header (nothing is written under shared/, which is read-only in CI) and compares:
#   trt8.hpp  with 8.5    (the layout it declares: must match exactly)
#             with 8.6.1  (8.6 appends; see "allowed" below)
#   trt10.hpp with 10.0.1 (the layout it declares: must match exactly)
#             with 10.16  (10.x appends; see "allowed" below)
# Both the main facts (<ver>.txt: slots, signatures, calling convention, destructor slots,
# enum values, sizes, offsets, entry points, inline calibrator values) and the full vtable
# listing (<ver>.vtables.txt) are compared, for every fact that both sides declare
# (compare.sh -x -p). The full listing of our header must also cover every vtable slot.
#
# Allowed differences against the LATER version only (each one is checked, not skipped):
#   vtlen      our vtable may be SHORTER than the later version's (methods appended later
#              are deliberately not declared); longer or equal-but-different fails.
#   overloaded the later header overloads a method we declare once (10.13 adds a second
#              IBuilder::buildSerializedNetwork), so the probe cannot take its address;
#              the slot itself is checked against the base version.
#   noexcept   IParser and the parser entry points became `noexcept` in 10.3. noexcept is
#              not part of the Itanium ABI (no effect on slots, mangling or registers), so
#              for nvonnxparser:: keys and createNvOnnxParser_INTERNAL/getNvOnnxParserVersion
#              a difference that disappears when "noexcept" is ignored is accepted.
# Finally it plants two mistakes in temporary copies (two slots swapped in 10.x; Dims32 by
# const& instead of by value in 8.x) and requires that each is reported.
#
# Env: SHARED (default ../shared beside the checkout, else /work/shared), CXX (g++).
# Prints one line per check and a closing "N passed, N failed"; exit 1 on any failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${SHARED:-$root/../shared}"
[ -d "$shared/abi-facts" ] || shared=/work/shared
facts="$shared/abi-facts"
tools="$facts/tools"
work="$root/target/abi"
mkdir -p "$work"
passed=0
failed=0

pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

# probe <header> <name> [FULL=0|1]: facts of our header into $work/<name>.txt (+ .vtables.txt)
probe() {
  local hdr="$1" name="$2" full="${3:-1}"
  # Each header gets its own folder: gen_full.py scans every header beside PROBE_DECLS.
  local dir="$work/$name/decl"
  rm -rf "$work/$name"
  mkdir -p "$dir"
  cp "$hdr" "$dir/"
  if ! FULL="$full" BUILD_DIR="$work/$name/build" PROBE_DECLS="$dir/$(basename "$hdr")" \
    OUT="$work/$name.txt" bash "$tools/run.sh" "$dir" >"$work/$name.log" 2>&1; then
    cat "$work/$name.log" >&2
    return 1
  fi
}

# differences <reference facts> <our facts>: the "~" lines of compare.sh -x -p
differences() {
  bash "$tools/compare.sh" -x -p "$1" "$2" | grep '^~ ' || true
}

# unexplained <diff lines on stdin>: those not covered by the allowed list above
unexplained() {
  awk '
    function strip(v) { gsub(/noexcept=1/, "noexcept=0", v); gsub(/ noexcept$/, "", v); gsub(/ noexcept /, " ", v); return v }
    {
      line = $0
      split(substr(line, 3), kv, ": ")
      key = kv[1]
      rest = substr(line, 3 + length(key) + 2)
      n = index(rest, "  =>  ")
      ref = substr(rest, 1, n - 1); ours = substr(rest, n + 6)
      split(key, k, " ")
      if (k[1] == "vtlen" && ours + 0 < ref + 0) next
      if (ref == "overloaded-or-inaccessible") next
      if ((k[2] ~ /^nvonnxparser::/ || k[2] == "createNvOnnxParser_INTERNAL" || k[2] == "getNvOnnxParserVersion") \
          && strip(ref) == strip(ours)) next
      print line
    }'
}

# compare_exact <label> <ref> <ours>
compare_exact() {
  local d
  d="$(differences "$2" "$3")"
  if [ -z "$d" ]; then
    pass "$1 ($(bash "$tools/compare.sh" -x -p "$2" "$3" | tail -1 | sed 's/^# //'))"
  else
    fail "$1"
    echo "$d" | sed 's/^/    /'
  fi
}

# compare_later <label> <ref> <ours>
compare_later() {
  local d u
  d="$(differences "$2" "$3")"
  u="$(printf '%s\n' "$d" | grep -v '^$' | unexplained || true)"
  if [ -z "$u" ]; then
    pass "$1 ($(printf '%s\n' "$d" | grep -c '^~' || true) allowed differences)"
  else
    fail "$1"
    echo "$u" | sed 's/^/    /'
  fi
}

# coverage <our vtables file>: every class listed, every one complete
coverage() {
  local bad
  bad="$(grep '^coverage ' "$2" | grep -v ' complete$' || true)"
  if [ -n "$bad" ] || ! grep -q '^coverage ' "$2"; then
    fail "$1"
    echo "${bad:-    no coverage lines}" | sed 's/^/    /'
  else
    pass "$1 ($(grep -c '^coverage ' "$2") classes)"
  fi
}

for set in "8 8.5 8.6.1" "10 10.0.1 10.16"; do
  read -r abi base later <<<"$set"
  if ! probe "$root/shim/abi/trt$abi.hpp" "trt$abi"; then
    fail "probe compiles against shim/abi/trt$abi.hpp"
    continue
  fi
  compare_exact "trt$abi.hpp facts == $base" "$facts/$base.txt" "$work/trt$abi.txt"
  compare_exact "trt$abi.hpp vtables == $base" "$facts/$base.vtables.txt" "$work/trt$abi.vtables.txt"
  compare_later "trt$abi.hpp facts ~ $later" "$facts/$later.txt" "$work/trt$abi.txt"
  compare_later "trt$abi.hpp vtables ~ $later" "$facts/$later.vtables.txt" "$work/trt$abi.vtables.txt"
  coverage "trt$abi.hpp covers every vtable slot" "$work/trt$abi.vtables.txt"
done

# ---- planted mistakes: the comparison must catch them ----
# (a) 10.x: swap getNbInputs/getNbOutputs (same signature, so only the slots change).
mkdir -p "$work/planted"
awk '/virtual int32_t getNbInputs\(\) const noexcept = 0;/ { print "    virtual int32_t getNbOutputs() const noexcept = 0;"; next }
     /virtual int32_t getNbOutputs\(\) const noexcept = 0;/ { print "    virtual int32_t getNbInputs() const noexcept = 0;"; next }
     { print }' "$root/shim/abi/trt10.hpp" >"$work/planted/trt10.hpp"
if cmp -s "$root/shim/abi/trt10.hpp" "$work/planted/trt10.hpp"; then
  fail "planted slot swap: could not plant (lines not found)"
elif probe "$work/planted/trt10.hpp" planted10 0; then
  d="$(differences "$facts/10.0.1.txt" "$work/planted10.txt")"
  if grep -q '^~ slot nvinfer1::apiv::VNetworkDefinition::getNbInputs: 14  =>  16' <<<"$d" &&
    grep -q '^~ slot nvinfer1::apiv::VNetworkDefinition::getNbOutputs: 16  =>  14' <<<"$d"; then
    pass "planted slot swap (getNbInputs <-> getNbOutputs) is reported"
  else
    fail "planted slot swap was not reported"
    echo "$d" | sed 's/^/    /'
  fi
else
  fail "probe compiles against the planted 10.x copy"
fi
# (b) 8.x: VTensor::setDimensions taking Dims32 const& (silently wrong: 8.x passes by value).
sed 's/virtual void setDimensions(Dims32 dimensions) noexcept = 0;/virtual void setDimensions(Dims32 const\& dimensions) noexcept = 0;/' \
  "$root/shim/abi/trt8.hpp" >"$work/planted/trt8.hpp"
if cmp -s "$root/shim/abi/trt8.hpp" "$work/planted/trt8.hpp"; then
  fail "planted by-reference Dims32: could not plant (line not found)"
elif probe "$work/planted/trt8.hpp" planted8 0; then
  d="$(differences "$facts/8.5.txt" "$work/planted8.txt")"
  if grep -q '^~ abi nvinfer1::apiv::VTensor::setDimensions: ret=void args=mem36 .*=>  ret=void args=ref' <<<"$d"; then
    pass "planted Dims32-by-reference is reported"
  else
    fail "planted Dims32-by-reference was not reported"
    echo "$d" | sed 's/^/    /'
  fi
else
  fail "probe compiles against the planted 8.x copy"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
