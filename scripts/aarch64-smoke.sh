#!/usr/bin/env bash
# Emulated smoke test of the Jetson (aarch64) build, on an x86-64 Debian/Ubuntu machine:
#
#   scripts/aarch64-smoke.sh [--no-install] [--no-cargo-tests]
#
# 1. cross-builds the release binary (scripts/cross-aarch64.sh) and aarch64 builds of the
#    test-only stand-ins (TARGET_TRIPLE=aarch64-linux-gnu scripts/build-test-libs.sh ->
#    target/test-libs/aarch64/{hostcuda,trtsim}), installing g++-aarch64-linux-gnu, qemu-user
#    and the rustup target if missing (unless --no-install);
# 2. checks its footprint (scripts/footprint.sh --max-glibc 2.35) and runs it under qemu-user
#    (qemu-aarch64 -L /usr/aarch64-linux-gnu): --version, inspect-cache and inspect-data on
#    fixtures (output and exit code must equal the native build's, byte for byte), bench-feed through the aarch64 hostcuda (discrete and
#    HOSTCUDA_INTEGRATED=1: the automatic choice must be the mapped zero-copy path; each
#    path forced), a missing libcuda; then `calibrate` (cache and engine byte-identical to the
#    x86-64 build's) and `doctor` against aarch64 trtsim, when the binary has them
#    (optional_step);
# 3. unless --no-cargo-tests: cross-compiles tests/trt_shim.rs (the C++ shim and the trt module
#    against trtsim 8 and 10), tests/feed_hostcuda.rs and tests/jetson_feed.rs and runs them
#    under qemu.
# Prints "N passed, N failed" and the elapsed time; exits 1 on any failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

install=1
cargo_tests=1
for a in "$@"; do
  case "$a" in
    --no-install) install=0 ;;
    --no-cargo-tests) cargo_tests=0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "aarch64-smoke.sh: unknown argument '$a' (see --help)" >&2; exit 2 ;;
  esac
done
start=$SECONDS
need_qemu=1
. "$root/scripts/aarch64-env.sh"

flags=()
[ "$install" = 0 ] && flags+=(--no-install)
bash scripts/cross-aarch64.sh "${flags[@]}"
TARGET_TRIPLE=aarch64-linux-gnu bash scripts/build-test-libs.sh
# The x86-64 stand-ins too: the reference run of calibrate uses them.
bash scripts/build-test-libs.sh
# The native build is the reference for byte-for-byte output comparisons.
cargo build -q --bin trtq-lite
built=$((SECONDS - start))

target="${CARGO_TARGET_DIR:-$root/target}"
arm="$target/$aarch64_triple/release/trtq-lite"
native="$target/debug/trtq-lite"
libs="$root/target/test-libs/aarch64"
qemu=(qemu-aarch64 -L "$aarch64_sysroot")
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -z "${2:-}" ] || sed 's/^/     /' <<<"$2"; }

# run_arm ARGS...: the aarch64 binary under qemu; stdout, stderr and status into $tmp/arm.*
run_arm() {
  set +e
  "${qemu[@]}" "$arm" "$@" >"$tmp/arm.out" 2>"$tmp/arm.err"
  echo $? >"$tmp/arm.rc"
  set -e
}

# same NAME ARGS...: the aarch64 and the native binary print the same and exit the same.
same() {
  local name="$1"; shift
  run_arm "$@"
  set +e
  "$native" "$@" >"$tmp/nat.out" 2>"$tmp/nat.err"
  echo $? >"$tmp/nat.rc"
  set -e
  if cmp -s "$tmp/arm.out" "$tmp/nat.out" && cmp -s "$tmp/arm.err" "$tmp/nat.err" &&
     cmp -s "$tmp/arm.rc" "$tmp/nat.rc"; then
    ok "$name (exit $(cat "$tmp/arm.rc"), $(wc -c <"$tmp/arm.out") bytes, same as x86_64)"
  else
    bad "$name: aarch64 and x86_64 differ" \
      "$(diff <(cat "$tmp/arm.rc" "$tmp/arm.out" "$tmp/arm.err") <(cat "$tmp/nat.rc" "$tmp/nat.out" "$tmp/nat.err") | head -20)"
  fi
}

# json_check NAME PYTHON-EXPR: run_arm's stdout parsed as JSON into `j`; EXPR must be true.
json_check() {
  local name="$1" expr="$2"
  if [ "$(cat "$tmp/arm.rc")" != 0 ]; then
    bad "$name: exit $(cat "$tmp/arm.rc")" "$(cat "$tmp/arm.err")"
    return
  fi
  if python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($expr) else 1)" "$tmp/arm.out"; then
    ok "$name"
  else
    bad "$name: not ($expr)" "$(head -40 "$tmp/arm.out")"
  fi
}

# optional_step SUBCOMMAND FUNCTION: runs FUNCTION only when this build has SUBCOMMAND
# (`trtq-lite SUBCOMMAND --help` exits 0), so the smoke test grows with the binary.
optional_step() {
  run_arm "$1" --help
  if [ "$(cat "$tmp/arm.rc")" = 0 ]; then
    "$2"
  else
    echo "skipped: $1 not in this build"
  fi
}

# make_npy DIR FILES SAMPLES_PER_FILE H W: float32 samples of 3xHxW (no NumPy needed).
make_npy() {
  python3 - "$@" <<'PY'
import os, struct, sys
out, files, per, h, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
os.makedirs(out, exist_ok=True)
count = per * 3 * h * w
for k in range(files):
    shape = "(3, %d, %d)" % (h, w) if per == 1 else "(%d, 3, %d, %d)" % (per, h, w)
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape
    hdr += " " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + "\n"
    body = struct.pack("<%df" % count, *[((k * 7 + i) % 251) / 250.0 for i in range(count)])
    with open(os.path.join(out, "s_%04d.npy" % k), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + body)
PY
}

echo "== aarch64 binary under qemu-user"
if readelf -h "$arm" | grep -q 'Machine: *AArch64'; then
  ok "$arm is an aarch64 ELF"
else
  bad "$arm is not aarch64: $(readelf -h "$arm" | grep Machine)"
fi
# Size, dynamic dependencies, glibc <= 2.35 (JetPack 6's Ubuntu 22.04).
if bash scripts/footprint.sh --max-glibc 2.35 "$arm" >"$tmp/footprint.log" 2>&1; then
  ok "footprint: $(grep -o 'size [0-9]* bytes = [0-9.]* MiB' "$tmp/footprint.log"), $(grep -o 'needs glibc >= [0-9.]*' "$tmp/footprint.log")"
else
  bad "footprint" "$(cat "$tmp/footprint.log")"
fi
same "--version" --version
grep -qx "trtq-lite $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" "$tmp/arm.out" &&
  ok "--version names Cargo.toml's version" || bad "--version: $(cat "$tmp/arm.out")"

for c in yolo11_trt10.3_entropy2.cache vgg16_trt8.4_minmax.cache yolov4tiny_trt7.1.3_entropy2.bin; do
  same "inspect-cache $c" inspect-cache "fixtures/caches/$c"
  same "inspect-cache $c --json" inspect-cache "fixtures/caches/$c" --json
done
same "inspect-cache --against" inspect-cache fixtures/caches/yolo11_trt10.3_entropy2.cache --against fixtures/caches/yolo11_trt10.3_entropy2.cache
same "inspect-cache bad file (exit 2)" inspect-cache fixtures/caches/edge/bad_truncated_colon.cache
for f in good_v1_f4_2x3.npy good_v2_f2_4.npy good_v3_f8_2x2.npy good_v1_u1_2x2x2.npy; do
  same "inspect-data $f --json" inspect-data "fixtures/npy/$f" --json
done
same "inspect-data fixtures/npy/good_v1_f4_2x3.npy" inspect-data fixtures/npy/good_v1_f4_2x3.npy
same "inspect-data bad file (exit 2)" inspect-data fixtures/npy/bad_big_endian.npy

echo "== bench-feed through the aarch64 hostcuda"
make_npy "$tmp/feed" 8 1 16 16
# The same 8 samples in one file: registered memory maps one file's contiguous bytes.
make_npy "$tmp/feed1" 1 8 16 16
export TRTQ_LIBCUDA="$libs/hostcuda/libcuda.so.1"
bytes_ok='j["batches"] == 4 and j["bytes"] == 4 * j["batch_bytes"] == 4 * 2 * 3 * 16 * 16 * 4'
run_arm bench-feed "$tmp/feed" --batch-size 2 --json
json_check "bench-feed auto, discrete: every byte, not mapped" "$bytes_ok and j['feed_path'] != 'mapped'"
HOSTCUDA_INTEGRATED=1 run_arm bench-feed "$tmp/feed" --batch-size 2 --json
json_check "bench-feed auto, integrated: mapped (zero copy)" "$bytes_ok and j['feed_path'] == 'mapped' and 'integrated' in j['decision']"
for p in staged registered mapped; do
  HOSTCUDA_INTEGRATED=1 run_arm bench-feed "$tmp/feed1" --batch-size 2 --feed "$p" --json
  json_check "bench-feed --feed $p (forced, integrated)" "$bytes_ok and j['feed_path'] == '$p'"
done
run_arm bench-feed "$tmp/feed" --batch-size 2 --cuda-lib /nonexistent/libcuda.so.1
if [ "$(cat "$tmp/arm.rc")" = 1 ] && grep -q /nonexistent/libcuda.so.1 "$tmp/arm.err"; then
  ok "bench-feed with a missing libcuda: exit 1 naming the path"
else
  bad "bench-feed with a missing libcuda: exit $(cat "$tmp/arm.rc")" "$(cat "$tmp/arm.err")"
fi
unset TRTQ_LIBCUDA

# calibrate yolo_static.onnx (images 1x3x64x64) with aarch64 trtsim 8 and 10; the cache and
# the engine must be byte-identical to the x86-64 build's with x86-64 trtsim.
calibrate_smoke() {
  make_npy "$tmp/calib" 4 1 64 64
  local major host="$root/target/test-libs"
  for major in 8 10; do
    rm -f "$tmp"/{arm,x86}"$major".{cache,engine}
    TRTSIM_LIBCUDA="$libs/hostcuda/libcuda.so.1" run_arm calibrate fixtures/onnx/yolo_static.onnx \
      --data "images=$tmp/calib" --batch-size 1 --cache "$tmp/arm$major.cache" \
      --engine "$tmp/arm$major.engine" --nvinfer "$libs/trtsim/$major" \
      --cuda-lib "$libs/hostcuda/libcuda.so.1" --quiet
    if [ "$(cat "$tmp/arm.rc")" != 0 ]; then
      bad "calibrate with aarch64 trtsim $major: exit $(cat "$tmp/arm.rc")" "$(tail -20 "$tmp/arm.err")"
      continue
    fi
    TRTSIM_LIBCUDA="$host/hostcuda/libcuda.so.1" "$native" calibrate fixtures/onnx/yolo_static.onnx \
      --data "images=$tmp/calib" --batch-size 1 --cache "$tmp/x86$major.cache" \
      --engine "$tmp/x86$major.engine" --nvinfer "$host/trtsim/$major" \
      --cuda-lib "$host/hostcuda/libcuda.so.1" --quiet >/dev/null 2>"$tmp/x86.err" ||
      { bad "calibrate (x86-64 reference) with trtsim $major" "$(tail -20 "$tmp/x86.err")"; continue; }
    if [ -s "$tmp/arm$major.engine" ] && "$native" inspect-cache "$tmp/arm$major.cache" >/dev/null &&
       cmp -s "$tmp/arm$major.cache" "$tmp/x86$major.cache" &&
       cmp -s "$tmp/arm$major.engine" "$tmp/x86$major.engine"; then
      ok "calibrate with aarch64 trtsim $major: cache and engine identical to x86_64's"
    else
      bad "calibrate with aarch64 trtsim $major: outputs differ from x86_64's" \
        "$(diff "$tmp/arm$major.cache" "$tmp/x86$major.cache" | head -10)"
    fi
  done
}

# doctor on an integrated (Jetson-like) hostcuda with aarch64 trtsim 10.
doctor_smoke() {
  TRTSIM_LIBCUDA="$libs/hostcuda/libcuda.so.1" HOSTCUDA_INTEGRATED=1 run_arm doctor \
    --nvinfer "$libs/trtsim/10" --cuda-lib "$libs/hostcuda/libcuda.so.1"
  if [ "$(cat "$tmp/arm.rc")" = 0 ] && grep -q 'integrated' "$tmp/arm.out" &&
     grep -q "$libs/trtsim/10/libnvinfer.so.10" "$tmp/arm.out"; then
    ok "doctor with aarch64 trtsim 10 and an integrated hostcuda"
  else
    bad "doctor: exit $(cat "$tmp/arm.rc")" "$(cat "$tmp/arm.out" "$tmp/arm.err" | tail -20)"
  fi
}

echo "== optional subcommands"
optional_step calibrate calibrate_smoke
optional_step doctor doctor_smoke

if [ "$cargo_tests" = 1 ]; then
  echo "== Rust tests of the shim and the feed, compiled for aarch64, under qemu"
  # CC/CXX: trt_shim.rs compiles a stub libnvinfer with $CC, which must be the target's.
  # --test-threads=1: qemu-user once crashed (SIGSEGV) with the tests' threads forking the
  # build script; emulation is CPU-bound, so serial costs little.
  set +e
  TRTQ_TEST_LIBS="$libs" TARGET_TRIPLE=aarch64-linux-gnu CC="$aarch64_gnu-gcc" CXX="$aarch64_gnu-g++" \
    TRTQ_TEST_RUNNER="${qemu[*]}" RUST_BACKTRACE=0 \
    cargo test -q --target "$aarch64_triple" --test trt_shim --test feed_hostcuda --test jetson_feed -- --test-threads=1 \
    >"$tmp/cargo.log" 2>&1
  rc=$?
  set -e
  if [ $rc = 0 ]; then
    ok "cargo test --target $aarch64_triple --test trt_shim --test feed_hostcuda --test jetson_feed ($(grep -o '[0-9]* passed' "$tmp/cargo.log" | awk '{s+=$1} END {print s}') tests)"
  else
    bad "cargo test under qemu (exit $rc)" "$(tail -40 "$tmp/cargo.log")"
  fi
fi

echo "aarch64 smoke: builds ${built} s, total $((SECONDS - start)) s"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
