#!/usr/bin/env bash
# Cache fixtures are what they claim to be:
# - each real cache in fixtures/caches/ is byte-identical to the shared original it was copied
#   from ($SHARED/fixtures/caches/, SHARED defaulting to ../shared, then /work/shared);
# - fixtures/caches/edge/ is exactly what edge/make.py writes (nothing edited by hand, nothing
#   stale).
set -euo pipefail
echo "cache fixtures (copies of the shared real caches; edge cases as make.py writes them)"
root="$(cd "$(dirname "$0")/../.." && pwd)"
shared="${SHARED:-$root/../shared}"
[ -d "$shared" ] || shared=/work/shared
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

if [ -d "$shared/fixtures/caches" ]; then
  for f in yolo11_trt10.3_entropy2.cache yolov4tiny_trt7.1.3_entropy2.bin \
           vgg16_trt8.4_minmax.cache unet3d_legacy.cache old_header_1.bin; do
    if cmp -s "$root/fixtures/caches/$f" "$shared/fixtures/caches/$f"; then ok; else bad "$f differs from $shared/fixtures/caches/$f"; fi
  done
else
  echo "note: no shared fixtures folder ($shared): real-cache copies not compared"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 "$root/fixtures/caches/edge/make.py" "$tmp" >/dev/null
for f in "$tmp"/*; do
  n="$(basename "$f")"
  if cmp -s "$f" "$root/fixtures/caches/edge/$n"; then ok; else bad "edge/$n is not what make.py writes"; fi
done
for f in "$root"/fixtures/caches/edge/ok_* "$root"/fixtures/caches/edge/bad_*; do
  [ -e "$tmp/$(basename "$f")" ] || bad "edge/$(basename "$f") is not made by make.py"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
