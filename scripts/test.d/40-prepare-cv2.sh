#!/usr/bin/env bash
# Cross-checks `prepare` against the Python pipeline it replaces (issue 9):
#  1. tests/fixtures/prepare/make.py reproduces the committed PNG fixtures byte for byte (the
#     JPEG ones need Pillow and are not regenerated here);
#  2. with OpenCV + NumPy: scripts/prepare_cv2_check.py runs `prepare` and Ultralytics'
#     preprocessing (cv2.imdecode IMREAD_COLOR, LetterBox(auto=False, scaleup=True) with
#     cv2.resize INTER_LINEAR + copyMakeBorder 114, BGR->RGB, CHW, /255) on every fixture and on
#     generated noise images at several sizes: PNGs within one grey level, JPEGs within the
#     decoder tolerance it prints; both refuse the same broken files.
# OpenCV is pip-installed here when missing (opencv-python-headless, one wheel, ~1 minute);
# when that fails the comparison is reported as skipped, loudly. Prints "N passed, N failed".
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
cargo build --quiet 2>/dev/null || cargo build
bin="$root/target/debug/trtq-lite"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0

if python3 tests/fixtures/prepare/make.py --out "$tmp/fx" --png-only; then
  same=1
  for f in "$tmp"/fx/*.png; do
    cmp -s "$f" "tests/fixtures/prepare/$(basename "$f")" || { same=0; echo "differs: $f"; }
  done
  [ "$(ls "$tmp"/fx/*.png | wc -l)" = "$(ls tests/fixtures/prepare/*.png | wc -l)" ] || same=0
else
  same=0
fi
if [ $same = 1 ]; then pass=$((pass + 1)); echo "ok   make.py reproduces the committed PNG fixtures"
else fail=$((fail + 1)); echo "FAIL make.py reproduces the committed PNG fixtures"; fi

have_cv2() { python3 -c 'import cv2, numpy' 2>/dev/null; }
if ! have_cv2; then
  echo "installing opencv-python-headless + numpy for the cv2 comparison"
  timeout 300 python3 -m pip install --quiet --break-system-packages opencv-python-headless numpy 2>/dev/null ||
    timeout 300 python3 -m pip install --quiet opencv-python-headless numpy || true
fi
if ! have_cv2; then
  echo "SKIPPED: cv2 comparison of prepare (python3 cannot import cv2 and numpy, and pip could not install them)"
  echo "$pass passed, $fail failed, 1 skipped"
  [ $fail = 0 ]; exit
fi

# Larger noise images (written with cv2 as lossless PNG): down/up-scaling, odd sizes, halving.
python3 - "$tmp/gen" <<'PY'
import sys, os, numpy as np, cv2
d = sys.argv[1]; os.makedirs(d)
r = np.random.default_rng(9)
for w, h in [(1280, 720), (997, 641), (333, 500), (50, 37), (640, 640), (2, 900)]:
    cv2.imwrite(f"{d}/noise_{w}x{h}.png", r.integers(0, 256, (h, w, 3), dtype=np.uint8))
PY
out="$(python3 scripts/prepare_cv2_check.py "$bin" "$tmp" tests/fixtures/prepare/*.png tests/fixtures/prepare/*.jpg "$tmp"/gen/*.png 2>&1 | grep -v 'WARN:')"
# Its closing tally is folded into this script's own closing line below.
echo "$out" | sed '$d'
line="$(echo "$out" | tail -n 1)"
p="$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')"
f="$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')"
if [ -z "$p" ]; then fail=$((fail + 1)); echo "FAIL prepare_cv2_check.py did not finish"
else pass=$((pass + p)); fail=$((fail + f)); fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]
