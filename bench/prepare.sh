#!/usr/bin/env bash
# Speed of `trtq-lite prepare` (issue 9): images/s for N generated photos-like images, with
# one worker thread and with all cores. Needs no Rust and no network: a trtq-lite binary and
# python3 with numpy (Pillow or OpenCV, when present, write JPEGs; otherwise PNGs are written
# with zlib by hand). Usage:
#
#   TRTQ_BIN=target/release/trtq-lite bash bench/prepare.sh        # ~1 minute on 2 cores
#
# Environment (all optional):
#   TRTQ_BIN       the binary (default target/release/trtq-lite)
#   BENCH_DIR      work folder (default /tmp/trtq-prepare-bench; ~1.3 GB of output per run at
#                  the defaults); removed at the end unless BENCH_KEEP=1
#   BENCH_N        number of images (default 200)
#   BENCH_SIZE     WxH of the generated images (default 1280x720)
#   BENCH_FORMAT   jpg | png | auto (default auto: jpg when Pillow or OpenCV can write it)
#   BENCH_IMGSZ    --imgsz (default 640)
#   BENCH_JOBS     thread counts to time (default "1 <all cores>")
#   BENCH_IMAGES   a folder of real images to use instead of generated ones
#
# Each run: page-cache the inputs, run `prepare --json -q --force`, read images_per_second
# (prepared images / wall time of the whole run: listing, decoding, letterbox, writing each
# .npy through a temp file + fsync + rename) and the process's CPU time per image. One table
# at the end, with the load average (other work on the machine lowers images/s, not CPU ms).
set -euo pipefail
BIN="${TRTQ_BIN:-target/release/trtq-lite}"
DIR="${BENCH_DIR:-/tmp/trtq-prepare-bench}"
N="${BENCH_N:-200}"
SIZE="${BENCH_SIZE:-1280x720}"
FORMAT="${BENCH_FORMAT:-auto}"
IMGSZ="${BENCH_IMGSZ:-640}"
CORES="$(nproc)"
JOBS="${BENCH_JOBS:-1 $CORES}"
[ -x "$BIN" ] || { echo "TRTQ_BIN=$BIN is not an executable (cargo build --release elsewhere and copy it)"; exit 2; }
python3 -c 'import numpy' || { echo "python3 with numpy is needed"; exit 2; }
mkdir -p "$DIR"
if [ -n "${BENCH_IMAGES:-}" ]; then
  IMGS="$BENCH_IMAGES"
  FORMAT="given"
  N="$(find "$IMGS" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | wc -l)"
else
  IMGS="$DIR/imgs"
  rm -rf "$IMGS"
  FORMAT="$(python3 - "$IMGS" "$N" "$SIZE" "$FORMAT" <<'PY'
import os, struct, sys, zlib
import numpy as np
out, n, size, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
w, h = (int(v) for v in size.lower().split("x"))
os.makedirs(out)
writer = None
if fmt in ("auto", "jpg"):
    try:
        from PIL import Image
        writer = lambda p, a: Image.fromarray(a).save(p, quality=90)
    except ImportError:
        try:
            import cv2
            writer = lambda p, a: cv2.imwrite(p, a[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        except ImportError:
            if fmt == "jpg":
                sys.exit("BENCH_FORMAT=jpg needs Pillow or OpenCV")
fmt = "jpg" if writer else "png"

def png(path, a):
    def chunk(k, d):
        return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(a.shape[0]))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", a.shape[1], a.shape[0], 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))

r = np.random.default_rng(0)
yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
for i in range(n):
    # Photo-like: smooth colour fields, a few shapes, mild noise (compresses like a photo).
    fx, fy, ph = r.uniform(0.002, 0.02, 3), r.uniform(0.002, 0.02, 3), r.uniform(0, 6.3, 3)
    a = np.stack([127 + 100 * np.sin(xx * fx[c] + yy * fy[c] + ph[c]) for c in range(3)], -1)
    for _ in range(4):
        cx, cy, rad = r.uniform(0, w), r.uniform(0, h), r.uniform(20, h / 3)
        a[(xx - cx) ** 2 + (yy - cy) ** 2 < rad * rad] = r.uniform(0, 255, 3)
    a = np.clip(a + r.normal(0, 4, a.shape), 0, 255).astype(np.uint8)
    p = os.path.join(out, f"img_{i:05d}.{fmt}")
    writer(p, a) if writer else png(p, a)
print(fmt)
PY
)"
fi
BYTES="$(du -sb "$IMGS" | cut -f1)"
echo "== $N images ($FORMAT, ${SIZE}, $((BYTES / 1024 / 1024)) MiB) -> --imgsz $IMGSZ, $CORES cores, $("$BIN" --version)"
LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
ROWS=()
for j in $JOBS; do
  find "$IMGS" -type f -exec cat {} + >/dev/null
  # Run through Python to read the child's CPU time too: with other work on the machine,
  # CPU ms per image is the figure that does not depend on the load.
  ROWS+=("$(python3 - "$BIN" "$IMGS" "$DIR/out" "$IMGSZ" "$j" "$FORMAT" "$SIZE" <<'PY'
import json, resource, subprocess, sys
b, imgs, out, imgsz, j, fmt, size = sys.argv[1:]
r = subprocess.run([b, "prepare", imgs, "-o", out, "--imgsz", imgsz, "--force", "-q", "--json", "--jobs", j],
                   check=True, capture_output=True, text=True)
v = json.loads(r.stdout)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu_ms = (u.ru_utime + u.ru_stime) * 1000 / v["prepared"]
print("%-7s %-10s %5s %8d %9.2f %10.1f %13.1f" % (fmt, size, j, v["prepared"], v["seconds"], v["images_per_second"], cpu_ms))
PY
)")
  rm -rf "$DIR/out"
done

echo "load average before the runs: $LOAD"
echo
echo "format  size        jobs   images   seconds   images/s   CPU ms/image"
for r in "${ROWS[@]}"; do echo "$r"; done
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$DIR"
