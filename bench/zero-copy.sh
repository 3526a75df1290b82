#!/usr/bin/env bash
# Zero-copy (mapped) against copying feed paths, measured by `trtq-lite bench-feed` on the
# machine it runs on (the GPU host: no Rust needed, only the built binary, python3 and numpy).
#
#   TRTQ_BIN=/path/to/trtq-lite bash bench/zero-copy.sh [--quick]
#
# Environment: TRTQ_BIN (default target/release/trtq-lite), PYTHON (default python3),
# WORK (scratch folder for the data, default a new folder under /tmp, removed at the end),
# REPS (runs per cell, default 3; the table shows the median), TRTQ_LIBCUDA (libcuda to use;
# default the system's).
#
# For each data shape it writes ONE .npy file (so every path is possible: registered needs a
# batch inside one file) and runs bench-feed --json with --feed staged, registered, mapped and
# auto. Printed per cell: the feed's GB/s (median), the pinned cuMemcpyHtoDAsync ceiling
# measured in the same run, their ratio, the mean wait per batch after the first, and auto's
# decision. Then bench/zero-copy-read.py (if cuda-bindings is installed): what a kernel pays to
# read one batch from device memory, after a copy, and from mapped host memory.
#
# Reading the mapped row: on an integrated GPU (Jetson) the device reads mapped memory in
# place, so "mapped" is the whole cost of getting a batch to the GPU. On a discrete GPU (H200)
# the feed only fills host memory: the device then reads it over PCIe/NVLink-C2C inside the
# kernels that use it (TensorRT's calibration), a cost the bench-feed table does not include
# (zero-copy-read.py's table does). So on a discrete GPU the mapped bench-feed figure is an
# upper bound, not a like-for-like win over staged.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${TRTQ_BIN:-$root/target/release/trtq-lite}"
py="${PYTHON:-python3}"
reps="${REPS:-3}"
quick=0
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "zero-copy.sh: unknown argument '$a' (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "zero-copy.sh: TRTQ_BIN=$bin is not an executable (build: cargo build --release)" >&2; exit 2; }
if [ -n "${WORK:-}" ]; then
  work="$WORK"
  mkdir -p "$work"
else
  work="$(mktemp -d /tmp/trtq-zero-copy.XXXXXX)"
  trap 'rm -rf "$work"' EXIT
fi

# name samples C H W batch
if [ "$quick" = 1 ]; then
  configs=("small 64 3 64 64 8" "yolo640 16 3 640 640 4")
else
  configs=("imagenet224 512 3 224 224 32" "yolo640 128 3 640 640 8" "yolo1280 32 3 1280 1280 4")
fi

echo "# zero-copy: $("$bin" --version), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $reps runs per cell"
results="$work/results.jsonl"
: >"$results"
for c in "${configs[@]}"; do
  read -r name n ch h w batch <<<"$c"
  file="$work/$name.npy"
  "$py" - "$file" "$n" "$ch" "$h" "$w" <<'PY'
import sys
import numpy as np
path, n, c, h, w = sys.argv[1], *map(int, sys.argv[2:])
a = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, c, h, w))
rng = np.random.default_rng(0)
for i in range(n):
    a[i] = rng.random((c, h, w), dtype=np.float32)
a.flush()
PY
  for path in staged registered mapped auto; do
    for r in $(seq "$reps"); do
      if out="$("$bin" bench-feed "$file" --batch-size "$batch" --feed "$path" --json 2>"$work/err")"; then
        printf '%s\n' "$out" | "$py" -c 'import json,sys; j=json.load(sys.stdin); j["config"]=sys.argv[1]; j["mode"]=sys.argv[2]; print(json.dumps(j))' "$name" "$path" >>"$results"
      else
        echo "zero-copy.sh: bench-feed --feed $path on $name failed: $(cat "$work/err")" >&2
        "$py" -c 'import json,sys; print(json.dumps({"config": sys.argv[1], "mode": sys.argv[2], "error": sys.argv[3]}))' "$name" "$path" "$(head -c 300 "$work/err")" >>"$results"
      fi
    done
  done
  rm -f "$file"
done

"$py" - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in rows if "error" not in r]
if ok:
    r0 = ok[0]
    print(f"# device: {r0['device']} (driver {r0['driver_version']}, {r0['cuda_lib']})")
print()
print("| data (batch) | feed | GB/s | ceiling GB/s | ratio | wait/batch after first (ms) | one pinned copy (ms) | path chosen |")
print("|---|---|---:|---:|---:|---:|---:|---|")
cells = {}
for r in rows:
    cells.setdefault((r["config"], r["mode"]), []).append(r)
def med(rs, k):
    v = [r[k] for r in rs if isinstance(r.get(k), (int, float))]
    return statistics.median(v) if v else float("nan")
for (config, mode), rs in cells.items():
    good = [r for r in rs if "error" not in r]
    if not good:
        print(f"| {config} | {mode} | failed: {rs[0]['error'].strip().splitlines()[0] if rs[0]['error'].strip() else '?'} | | | | | |")
        continue
    g = good[0]
    shape = "x".join(str(d) for d in g["shapes"][0]["shape"])
    chosen = g["feed_path"] + (f" ({g['decision']})" if mode == "auto" else "")
    print(f"| {config} {shape} ({g['batch_size']}, {g['batch_bytes'] / 1e6:.1f} MB) | {mode} "
          f"| {med(good, 'gb_per_s'):.2f} | {med(good, 'ceiling_gb_per_s'):.2f} | {med(good, 'ratio'):.2f} "
          f"| {med(good, 'wait_mean_after_first_ms'):.3f} | {med(good, 'ceiling_batch_ms'):.3f} | {chosen} |")
print()
print("GB/s: batches made available to the device per second (bench-feed, no consumer).")
print("ceiling: pinned cuMemcpyHtoDAsync of one batch, same run. mapped on a discrete GPU:")
print("no copy is made here; the device reads host memory over the bus when kernels use it.")
PY

echo
# The GPU side of the mapped path (kernel reads over the bus), when cuda-bindings is present.
if "$py" -c 'from cuda.bindings import driver' 2>/dev/null || "$py" -c 'from cuda import cuda' 2>/dev/null; then
  "$py" "$root/bench/zero-copy-read.py" || echo "(device-read measurement failed; the table above stands)"
else
  echo "skipped: device-read measurement (bench/zero-copy-read.py needs cuda-bindings: pip install cuda-python)"
fi
