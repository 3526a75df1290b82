#!/usr/bin/env bash
# Feed benchmark for a GPU host (issue 3 targets). Needs: a release binary built elsewhere
# (no Rust on the GPU host), python3 with numpy, the NVIDIA driver. Usage:
#
#   TRTQ_BIN=target/release/trtq-lite bash bench/feed.sh            # ~1-2 minutes on an H200
#   TRTQ_BIN=... BENCH_RSS8G=1 bash bench/feed.sh                   # + 8 GiB streaming RSS check
#
# Environment (all optional):
#   TRTQ_BIN       the trtq-lite binary (default target/release/trtq-lite)
#   BENCH_DIR      where the data sets are written (default /tmp/trtq-feed-bench; needs ~5 GiB,
#                  ~14 GiB with BENCH_RSS8G=1); removed at the end unless BENCH_KEEP=1
#   BENCH_SAMPLES  samples per data set (default 512), BENCH_SHAPE (default 3,640,640)
#   BENCH_BATCHES  batch sizes (default "8 32"), BENCH_DEVICE (default 0)
#   BENCH_RSS8G=1  also stream an 8 GiB single-file data set and report peak RSS
#   BENCH_RUN_TIMEOUT  seconds one bench-feed run may take (default 120)
#   BENCH_REPEAT   runs of the b8 auto rows (default 3), BENCH_THREADS / BENCH_RINGS: the
#                  copy-thread counts (default "4 8 12 14 16") and staging sizes in MiB
#                  (default "32 128") of the staged sweep
#   TRTQ_LIBCUDA / BENCH_CUDA_LIB   libcuda to use (default: the system's)
#
# What it does: writes a float32 data set twice with numpy (one .npy per sample, and one big
# .npy), reads it once so it is in the page cache, then runs `trtq-lite bench-feed --json` for
# every batch size x layout x feed mode, each run also measuring the ceiling (pinned
# cuMemcpyHtoDAsync of one batch) in the same process, and records the peak RSS of each run.
# Then: consumer-wait runs (consumer slower than a copy), a cold-cache attempt (only if
# /proc/sys/vm/drop_caches is writable), and optionally the 8 GiB RSS check. One table at the end.
set -euo pipefail
BIN="${TRTQ_BIN:-target/release/trtq-lite}"
DIR="${BENCH_DIR:-/tmp/trtq-feed-bench}"
SAMPLES="${BENCH_SAMPLES:-512}"
SHAPE="${BENCH_SHAPE:-3,640,640}"
BATCHES="${BENCH_BATCHES:-8 32}"
DEV="${BENCH_DEVICE:-0}"
LIBARG=()
if [ -n "${BENCH_CUDA_LIB:-}" ]; then LIBARG=(--cuda-lib "$BENCH_CUDA_LIB"); fi
[ -x "$BIN" ] || { echo "TRTQ_BIN=$BIN is not an executable (build with cargo build --release)"; exit 2; }
python3 -c 'import numpy' || { echo "python3 with numpy is needed"; exit 2; }
mkdir -p "$DIR"
RUNS="$DIR/runs.jsonl"
: >"$RUNS"
START=$(date +%s)
echo "== writing data sets into $DIR ($SAMPLES samples of $SHAPE float32)"
python3 - "$DIR" "$SAMPLES" "$SHAPE" <<'PY'
import sys, os, numpy as np
d, n, shape = sys.argv[1], int(sys.argv[2]), tuple(int(x) for x in sys.argv[3].split(","))
os.makedirs(f"{d}/files", exist_ok=True)
a = np.random.default_rng(0).random((n,) + shape, dtype=np.float32)
np.save(f"{d}/big.npy", a)
for i in range(n):
    np.save(f"{d}/files/s_{i:05d}.npy", a[i])
PY
# Read everything once: the page-cached case is what the targets are about.
cat "$DIR"/big.npy "$DIR"/files/*.npy >/dev/null
echo "   written and cached in $(( $(date +%s) - START )) s"

# run LABEL ARGS... : one bench-feed run; appends {"label", "rss_kib", "rc", ...json} to RUNS.
run() {
  local label="$1"; shift
  python3 - "$RUNS" "$label" "$BIN" bench-feed "$@" --device "$DEV" ${LIBARG[@]+"${LIBARG[@]}"} --json <<'PY'
import json, os, resource, subprocess, sys, time
runs, label, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
t = time.time()
try:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=float(os.environ.get("BENCH_RUN_TIMEOUT", "120")))
except subprocess.TimeoutExpired:
    p = subprocess.CompletedProcess(cmd, 124, "", "timed out (BENCH_RUN_TIMEOUT)")
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, this child only
rec = {"label": label, "rc": p.returncode, "rss_kib": rss, "wall_s": round(time.time() - t, 2),
       "cmd": " ".join(cmd[1:])}
if p.returncode == 0:
    rec.update(json.loads(p.stdout))
else:
    rec["error"] = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "?"
with open(runs, "a") as f:
    f.write(json.dumps(rec) + "\n")
print(f"   {label}: rc {p.returncode}, {rec.get('gb_per_s', 0):.1f} GB/s, ratio {rec.get('ratio') or 0:.3f}, "
      f"path {rec.get('feed_path', '-')}, peak RSS {rss // 1024} MiB, {rec['wall_s']} s"
      + ("" if p.returncode == 0 else f"  ({rec['error']})"))
PY
}

echo "== throughput (consumer 0 ms)"
for b in $BATCHES; do
  for mode in auto staged mapped; do
    run "files b$b $mode" "$DIR/files" --batch-size "$b" --feed "$mode" || true
  done
  for mode in auto staged registered mapped; do
    run "big b$b $mode" "$DIR/big.npy" --batch-size "$b" --feed "$mode" || true
  done
done

echo "== repeats of the target rows (b8, auto)"
for rep in $(seq 2 "${BENCH_REPEAT:-3}"); do
  run "files b8 auto #$rep" "$DIR/files" --batch-size 8 || true
  run "big b8 auto #$rep" "$DIR/big.npy" --batch-size 8 || true
done

echo "== staging copy threads and ring size (b8, staged)"
for th in ${BENCH_THREADS:-4 8 12 14 16}; do
  run "files b8 staged ${th}thr" "$DIR/files" --batch-size 8 --feed staged --copy-threads "$th" || true
  run "big b8 staged ${th}thr" "$DIR/big.npy" --batch-size 8 --feed staged --copy-threads "$th" || true
done
for mib in ${BENCH_RINGS:-32 128}; do
  run "files b8 staged ring ${mib}M" "$DIR/files" --batch-size 8 --feed staged --staging-mib "$mib" || true
  run "big b8 staged ring ${mib}M" "$DIR/big.npy" --batch-size 8 --feed staged --staging-mib "$mib" || true
done

echo "== consumer wait (consumer slower than one batch's copy)"
for b in $BATCHES; do
  # 2x the ceiling's copy time of one batch, from a quick run; at least 1 ms.
  cms=$(python3 - "$RUNS" "$b" <<'PY'
import json, sys
b = int(sys.argv[2])
c = [json.loads(l) for l in open(sys.argv[1])]
c = [r["ceiling_batch_ms"] for r in c if r.get("batch_size") == b and r.get("ceiling_batch_ms")]
print(max(1.0, round(2 * (sorted(c)[len(c) // 2] if c else 1.0), 2)))
PY
)
  run "files b$b wait@${cms}ms" "$DIR/files" --batch-size "$b" --consumer-ms "$cms" || true
  run "big b$b wait@${cms}ms" "$DIR/big.npy" --batch-size "$b" --consumer-ms "$cms" || true
done

echo "== cold cache"
if sync && (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
  run "files b8 auto COLD" "$DIR/files" --batch-size 8 || true
  sync; echo 3 >/proc/sys/vm/drop_caches
  run "big b8 auto COLD" "$DIR/big.npy" --batch-size 8 || true
  cat "$DIR"/big.npy "$DIR"/files/*.npy >/dev/null
else
  echo "   skipped: /proc/sys/vm/drop_caches is not writable here (needs root outside a container)"
fi

if [ "${BENCH_RSS8G:-0}" = 1 ]; then
  echo "== 8 GiB streaming RSS check"
  python3 - "$DIR" "$SHAPE" <<'PY'
import sys, numpy as np
d, shape = sys.argv[1], tuple(int(x) for x in sys.argv[2].split(","))
per = int(np.prod(shape)) * 4
n = -(-(8 << 30) // per)  # at least 8 GiB
m = np.lib.format.open_memmap(f"{d}/big8g.npy", mode="w+", dtype="<f4", shape=(n,) + shape)
chunk = np.random.default_rng(1).random((16,) + shape, dtype=np.float32)
for i in range(0, n, 16):
    k = min(16, n - i)
    m[i:i + k] = chunk[:k]
m.flush()
del m
print(f"   wrote {n} samples ({n * per / 2**30:.2f} GiB)")
PY
  # Baseline: the same process with a tiny data set (libcuda, context, binary).
  python3 -c "import numpy as np; np.save('$DIR/tiny.npy', np.zeros((8, 3, 8, 8), np.float32))"
  run "rss baseline (tiny data)" "$DIR/tiny.npy" --batch-size 8 --feed staged || true
  run "rss 8GiB b8 staged" "$DIR/big8g.npy" --batch-size 8 --feed staged || true
  run "rss 8GiB b8 auto" "$DIR/big8g.npy" --batch-size 8 || true
  run "rss 8GiB b8 registered" "$DIR/big8g.npy" --batch-size 8 --feed registered || true
  rm -f "$DIR/big8g.npy"
fi

echo
echo "== results ($(date -u +%Y-%m-%dT%H:%MZ), $(( $(date +%s) - START )) s)"
python3 - "$RUNS" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
dev = next((r["device"] for r in runs if r.get("device")), "?")
drv = next((r["driver_version"] for r in runs if r.get("driver_version")), "?")
print(f"device: {dev}, driver {drv}")
hdr = ("run", "path", "batch MB", "GB/s", "GB/s after 1st", "ceiling GB/s", "ratio", "ratio after 1st",
       "host copy GB/s", "host copy w/ DMA", "wait mean ms", "wait p99 ms", "wait/copy", "peak RSS MiB", "staging")
rows = []
for r in runs:
    if r["rc"] != 0:
        rows.append((r["label"], "error: " + r["error"][:60]) + ("",) * (len(hdr) - 2))
        continue
    f = lambda x, d=2: "-" if x is None else f"{x:.{d}f}"
    rows.append((r["label"], r["feed_path"], f(r["batch_bytes"] / 1e6, 1), f(r["gb_per_s"], 1),
                 f(r.get("gb_per_s_after_first"), 1), f(r.get("ceiling_gb_per_s"), 1), f(r.get("ratio"), 3),
                 f(r.get("ratio_after_first"), 3), f(r.get("host_copy_gb_per_s"), 1),
                 f(r.get("host_copy_with_dma_gb_per_s"), 1), f(r["wait_mean_ms"], 3), f(r["wait_p99_ms"], 3),
                 f(r.get("wait_vs_copy"), 3), str(r["rss_kib"] // 1024),
                 (lambda g: "-" if not g else f"{g['copy_threads']:.0f} thr, {g['buffers']:.0f} x "
                  f"{g['chunk_bytes'] / 2**20:.2f} MiB")(r.get("staging"))))
w = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
line = lambda row: "| " + " | ".join(str(x).ljust(n) for x, n in zip(row, w)) + " |"
print(line(hdr))
print("|" + "|".join("-" * (n + 2) for n in w) + "|")
for row in rows:
    print(line(row))
base = next((r for r in runs if r["label"].startswith("rss baseline") and r["rc"] == 0), None)
for r in runs:
    if r["label"].startswith("rss 8GiB") and r["rc"] == 0 and base:
        limit = 4 * r["batch_bytes"] / 2**20 + 64
        d = (r["rss_kib"] - base["rss_kib"]) / 1024
        print(f"{r['label']}: peak RSS {r['rss_kib'] // 1024} MiB, baseline {base['rss_kib'] // 1024} MiB, "
              f"increase {d:.0f} MiB; target 4 x batch + 64 MiB = {limit:.0f} MiB "
              f"(absolute {'met' if r['rss_kib'] / 1024 <= limit else 'NOT met'}, increase {'met' if d <= limit else 'NOT met'})")
print("Targets: ratio >= 0.90 for b8 files and big (page-cached); wait/copy <= 0.10 in the wait@ runs.")
print("host copy: the copy threads' work without the feed (after the stream), alone and while pinned copies")
print("run back to back; below the ceiling, the host (CPUs, or CPUs and DMA sharing memory) bounds the feed.")
PY
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$DIR"
