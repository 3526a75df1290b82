#!/usr/bin/env python3
"""Driver of bench/calib_bench.sh (run that; it sets the environment this reads).

Runs trtq-lite calibrate and bench/seed_calibrator.py on the same model, data and trtsim, for
each batch size and data layout, measures each process (wall time, peak RSS from wait4's
rusage: the same number /usr/bin/time -v prints), the pinned host-to-device ceiling (trtq-lite
bench-feed, same run), compares the caches byte for byte and prints one table.
"""
import json
import os
import subprocess
import sys
import time

E = os.environ
DIR = E["BENCH_DIR"]
BIN = E["TRTQ_BIN"]
TRTSIM_DIR = E["TRTSIM_DIR"]
SITE = E["BENCH_SITE"]
LIBCUDA = E.get("LIBCUDA", "")
SAMPLES = int(E["BENCH_SAMPLES"])
HW = int(E["BENCH_HW"])
BATCHES = [int(b) for b in E["BENCH_BATCHES"].split()]
COLD = E.get("BENCH_COLD", "auto")
ROOT = E["BENCH_ROOT"]
PY = sys.executable
RUNS = os.path.join(DIR, "runs.jsonl")
START = time.time()
# Runs not started by this many seconds after the script began are skipped (listed as such), so
# the table still comes out inside a caller's time limit. Data generation counts.
T0 = float(E.get("BENCH_T0") or START)
DEADLINE = float(E.get("BENCH_DEADLINE_S") or 480)
SKIPPED = []


def out_of_time(label):
    if time.time() - T0 > DEADLINE:
        SKIPPED.append(label)
        log("%s: skipped (BENCH_DEADLINE_S=%.0f reached)" % (label, DEADLINE))
        return True
    return False


def log(msg):
    print("[%5.0f s] %s" % (time.time() - START, msg), flush=True)


def child_env(python):
    env = dict(E)
    env["TRTSIM_SPILL_DIR"] = os.path.join(DIR, "spill")
    if LIBCUDA:
        env["TRTSIM_LIBCUDA"] = LIBCUDA  # trtsim's own cuMemcpyDtoH_v2: the same library
    if python:
        env["PYTHONPATH"] = SITE
        ld = [TRTSIM_DIR] + ([os.path.dirname(LIBCUDA)] if LIBCUDA else [])
        if E.get("LD_LIBRARY_PATH"):
            ld.append(E["LD_LIBRARY_PATH"])
        env["LD_LIBRARY_PATH"] = ":".join(ld)
    return env


def measure(cmd, env, logfile):
    """Runs cmd; returns (rc, wall_s, peak_rss_kib) of that one process."""
    with open(logfile, "w") as lf:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdout=lf, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, wall, ru.ru_maxrss


def record(rec):
    with open(RUNS, "a") as f:
        f.write(json.dumps(rec) + "\n")
    return rec


def tail(path, n=3):
    try:
        with open(path) as f:
            return " | ".join(l.strip() for l in f.read().strip().splitlines()[-n:])
    except OSError:
        return "?"


def drop_caches():
    try:
        subprocess.run(["sync"], check=False)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def warm(paths):
    for p in paths:
        files = [os.path.join(p, f) for f in sorted(os.listdir(p))] if os.path.isdir(p) else [p]
        for f in files:
            with open(f, "rb") as fh:
                while fh.read(64 << 20):
                    pass


def cuda_args():
    return ["--cuda-lib", LIBCUDA] if LIBCUDA else []


def bench_feed(label, src, b):
    out = os.path.join(DIR, "logs", label.replace(" ", "_") + ".json")
    cmd = [BIN, "bench-feed", src, "--batch-size", str(b), "--json"] + cuda_args()
    with open(out, "w") as o, open(out + ".err", "w") as e:
        rc = subprocess.run(cmd, env=child_env(False), stdout=o, stderr=e).returncode
    rec = {"kind": "feed", "label": label, "batch": b, "rc": rc}
    if rc == 0:
        rec.update(json.load(open(out)))
        log("%s: %.1f GB/s, ceiling %.1f GB/s (%.2f ms/batch), path %s" % (
            label, rec["gb_per_s"], rec.get("ceiling_gb_per_s") or 0, rec.get("ceiling_batch_ms") or 0,
            rec.get("feed_path")))
    else:
        rec["error"] = tail(out + ".err")
        log("%s: FAILED rc %d: %s" % (label, rc, rec["error"]))
    return record(rec)


def run_trtq(label, model, src, b, cache_name):
    cache = os.path.join(DIR, "caches", cache_name)
    if os.path.exists(cache):
        os.unlink(cache)
    js = os.path.join(DIR, "logs", label.replace(" ", "_") + ".json")
    cmd = [BIN, "calibrate", model, "--data", src, "--batch-size", str(b), "--cache", cache,
           "--engine", os.path.join(DIR, "engines", cache_name + ".engine"), "--nvinfer", TRTSIM_DIR,
           "--quiet", "--json"] + cuda_args()
    # stdout is the JSON document; stderr goes beside it.
    with open(js, "w") as o, open(js + ".err", "w") as e:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, env=child_env(False), stdout=o, stderr=e)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
    rc = os.waitstatus_to_exitcode(status)
    rec = {"kind": "calib", "tool": "trtq-lite", "label": label, "batch": b, "rc": rc, "wall_s": wall,
           "rss_kib": ru.ru_maxrss, "cache": cache}
    j = json.load(open(js)) if rc == 0 else {}
    if rc == 0 and j.get("simulator") is not True:
        rc = rec["rc"] = 1
        rec["error"] = "trtq-lite did not load trtsim from %s: %s" % (TRTSIM_DIR, j.get("nvinfer"))
        log("%s: FAILED: %s" % (label, rec["error"]))
    if rc == 0:
        rec.update({"batches": j["batches"], "get_batch_s": j["wait_s"], "first_s": j.get("wait_first_s"), "bytes": j["batches"] * b * 3 * HW * HW * 4,
                    "calibration_s": j["calibration_s"], "feed_path": j.get("feed_path"),
                    "calib_gbps": j.get("feed_gbps"), "trt_version": j.get("trt_version"), "gpu": j.get("gpu")})
        log("%s: %d batches, wall %.2f s, get_batch %.3f s, peak RSS %d MiB, feed %s" % (
            label, rec["batches"], wall, rec["get_batch_s"], rec["rss_kib"] // 1024, rec["feed_path"]))
    else:
        rec["error"] = tail(js + ".err")
        log("%s: FAILED rc %d: %s" % (label, rc, rec["error"]))
    return record(rec)


def run_seed(label, model, src, b, cache_name):
    cache = os.path.join(DIR, "caches", cache_name)
    if os.path.exists(cache):
        os.unlink(cache)
    js = os.path.join(DIR, "logs", label.replace(" ", "_") + ".json")
    if os.path.exists(js):
        os.unlink(js)
    cmd = [PY, "-W", "ignore::DeprecationWarning", os.path.join(ROOT, "bench", "seed_calibrator.py"), model,
           "--data", src, "--batch-size", str(b), "--cache", cache, "--json", js,
           "--engine", os.path.join(DIR, "engines", cache_name + ".engine")]
    rc, wall, rss = measure(cmd, child_env(True), js + ".log")
    rec = {"kind": "calib", "tool": "seed-python", "label": label, "batch": b, "rc": rc, "wall_s": wall,
           "rss_kib": rss, "cache": cache}
    if rc == 0 and "trtsim: simulated TensorRT" not in open(js + ".log", errors="replace").read():
        rc = rec["rc"] = 1
        rec["error"] = "the Python bindings did not load trtsim (another libnvinfer.so.10 came first?)"
        log("%s: FAILED: %s" % (label, rec["error"]))
    if rc == 0:
        j = json.load(open(js))
        rec.update({"batches": j["batches"], "get_batch_s": j["get_batch_s"], "first_s": j["first_get_batch_s"],
                    "bytes": j["bytes_fed"],
                    "load_s": j["load_s"], "calibration_s": j["build_s"], "trt_version": j["trt_version"]})
        log("%s: %d batches, wall %.2f s (set loaded in %.2f s), get_batch %.3f s, peak RSS %d MiB" % (
            label, rec["batches"], wall, rec["load_s"], rec["get_batch_s"], rss // 1024))
    else:
        rec["error"] = tail(js + ".log")
        log("%s: FAILED rc %d: %s" % (label, rc, rec["error"]))
    return record(rec)


def main():
    for d in ("logs", "caches", "engines", "spill"):
        os.makedirs(os.path.join(DIR, d), exist_ok=True)
    open(RUNS, "w").close()
    model = os.path.join(DIR, "model.onnx")
    files, big = os.path.join(DIR, "files"), os.path.join(DIR, "big.npy")
    layouts = [("files", files), ("one file", big)]

    # Baseline RSS: each tool on a 64x64 model with one batch of tiny samples (libcuda, context,
    # TensorRT bindings or the binary, trtsim), so the increase over it is what the feed holds.
    tiny = os.path.join(DIR, "tiny.npy")
    tiny_model = os.path.join(ROOT, "fixtures", "onnx", "yolo_dynamic.onnx")
    base = {}
    for b in BATCHES:
        base[("trtq-lite", b)] = run_trtq("baseline trtq-lite b%d" % b, tiny_model, tiny, b, "base-trtq-b%d" % b)
        base[("seed-python", b)] = run_seed("baseline seed-python b%d" % b, tiny_model, tiny, b, "base-seed-b%d" % b)

    log("page-caching the data sets")
    warm([files, big])
    feeds = {}
    for b in BATCHES:
        for lname, src in layouts:
            feeds[(lname, b, "warm")] = bench_feed("bench-feed %s b%d" % (lname, b), src, b)
    rows = []
    for b in BATCHES:
        for lname, src in layouts:
            tag = lname.replace(" ", "")
            if out_of_time("%s b%d page-cached (both tools)" % (lname, b)):
                continue
            rows.append(("warm", lname, run_trtq("trtq-lite %s b%d" % (lname, b), model, src, b, "trtq-%s-b%d" % (tag, b))))
            rows.append(("warm", lname, run_seed("seed-python %s b%d" % (lname, b), model, src, b, "seed-%s-b%d" % (tag, b))))

    cold_ok = False
    if COLD != "0":
        cold_ok = drop_caches()
        if not cold_ok:
            log("cold cache: skipped (/proc/sys/vm/drop_caches is not writable here)")
    if cold_ok:
        b = BATCHES[0]
        for lname, src in layouts:
            tag = lname.replace(" ", "")
            if out_of_time("%s b%d cold (both tools)" % (lname, b)):
                continue
            drop_caches()
            feeds[(lname, b, "cold")] = bench_feed("bench-feed %s b%d COLD" % (lname, b), src, b)
            drop_caches()
            rows.append(("cold", lname, run_trtq("trtq-lite %s b%d COLD" % (lname, b), model, src, b, "trtq-%s-b%d-cold" % (tag, b))))
            drop_caches()
            rows.append(("cold", lname, run_seed("seed-python %s b%d COLD" % (lname, b), model, src, b, "seed-%s-b%d-cold" % (tag, b))))
        warm([files, big])

    return report(rows, feeds, base, cold_ok)


def after_first(r):
    """(first get_batch ms, mean ms per batch of the other calls) of a calibration run."""
    first = r.get("first_s")
    if first is None or not r.get("batches"):
        return None, None
    rest = max(r["get_batch_s"] - first, 0.0)
    return first * 1e3, (rest / (r["batches"] - 1) * 1e3 if r["batches"] > 1 else None)


def fmt(x, d=2):
    if x is None:
        return "-"
    t = "%.*f" % (d, x)
    return t[1:] if t.startswith("-") and float(t) == 0 else t  # no "-0" for a rounded tiny negative


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def report(rows, feeds, base, cold_ok):
    batch_bytes = {b: b * 3 * HW * HW * 4 for b in BATCHES}
    info = next((r for _, _, r in rows if r.get("gpu")), {})
    ceil = {}
    for (l, b, c), f in feeds.items():
        if f.get("ceiling_gb_per_s"):
            ceil.setdefault(b, []).append(f)
    # One ceiling per batch size: the best pinned copy measured in this run.
    best = {b: max(fs, key=lambda f: f["ceiling_gb_per_s"]) for b, fs in ceil.items()}
    ok_caches = [r for _, _, r in rows if r["rc"] == 0]
    ref = read(ok_caches[0]["cache"]) if ok_caches else None

    hdr = ("tool", "data", "batch", "batches", "wall s", "get_batch s", "1st get_batch ms",
           "get_batch ms/batch after 1st", "wait/copy after 1st",
           "feed GB/s", "peak RSS MiB", "RSS over baseline MiB", "ceiling GB/s", "cache identical")
    out = []
    for cache_state, lname, r in rows:
        b = r["batch"]
        data = lname + (" (cold)" if cache_state == "cold" else "")
        if r["rc"] != 0:
            out.append((r["tool"], data, str(b), "error: " + r.get("error", "?")[:100]) + ("",) * (len(hdr) - 4))
            continue
        c = best.get(b)
        first_ms, per = after_first(r)
        wait_copy = per / c["ceiling_batch_ms"] if (c and per is not None and c.get("ceiling_batch_ms")) else None
        if r["tool"] == "trtq-lite":
            f = feeds.get((lname, b, cache_state))
            feed = f.get("gb_per_s") if f and f["rc"] == 0 else None
        else:
            feed = r["bytes"] / r["get_batch_s"] / 1e9 if r["get_batch_s"] > 0 else None
        bl = base.get((r["tool"], b))
        over = (r["rss_kib"] - bl["rss_kib"]) / 1024 if bl and bl["rc"] == 0 else None
        mine = read(r["cache"])
        twin = next((o for s, l, o in rows if s == cache_state and l == lname and o["batch"] == b
                     and o["tool"] != r["tool"]), None)
        same_twin = twin is not None and twin["rc"] == 0 and mine is not None and read(twin["cache"]) == mine
        out.append((r["tool"], data, str(b), str(r["batches"]), fmt(r["wall_s"]), fmt(r["get_batch_s"], 3),
                    fmt(first_ms, 2), fmt(per, 3), fmt(wait_copy, 3), fmt(feed, 1), str(r["rss_kib"] // 1024), fmt(over, 0),
                    fmt(c["ceiling_gb_per_s"], 1) if c else "-", "yes" if same_twin else "NO"))
    w = [max(len(str(x)) for x in col) for col in zip(hdr, *out)]
    line = lambda row: "| " + " | ".join(str(x).ljust(n) for x, n in zip(row, w)) + " |"
    lines = []
    lines.append("trtq-lite vs the seed's Python calibrator (issue 6), %s, %d s" % (
        time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), time.time() - START))
    lines.append("GPU: %s; TensorRT: trtsim as %s (NVIDIA bindings %s); data: %d samples of 3x%dx%d f32 "
                 "(%.2f GB per layout); cold cache: %s" % (
                     info.get("gpu", "?"), info.get("trt_version", "?"),
                     next((r.get("trt_version") for _, _, r in rows if r["tool"] == "seed-python" and r.get("trt_version")), "?"),
                     SAMPLES, HW, HW, SAMPLES * 3 * HW * HW * 4 / 1e9, "measured" if cold_ok else "not measurable here"))
    lines.append("")
    lines.append(line(hdr))
    lines.append("|" + "|".join("-" * (n + 2) for n in w) + "|")
    lines += [line(r) for r in out]
    lines.append("")
    for (t, b), r in sorted(base.items()):
        if r["rc"] == 0:
            lines.append("baseline %s b%d (64x64 model, one tiny batch): peak RSS %d MiB" % (t, b, r["rss_kib"] // 1024))
    if SKIPPED:
        lines.append("SKIPPED (out of time, BENCH_DEADLINE_S=%.0f): %s" % (DEADLINE, "; ".join(SKIPPED)))
    all_same = bool(ok_caches) and all(read(r["cache"]) == ref for r in ok_caches)
    lines.append("all %d calibration caches byte-identical to each other: %s" % (len(ok_caches), "yes" if all_same else "NO"))
    # Targets (trtq-lite, page-cached rows).
    lines.append("targets (trtq-lite, page-cached):")
    for s, lname, r in rows:
        if r["tool"] != "trtq-lite" or s != "warm" or r["rc"] != 0:
            continue
        b = r["batch"]
        c = best.get(b)
        f = feeds.get((lname, b, "warm"))
        _, per = after_first(r)
        whole = r["get_batch_s"] / r["batches"] * 1e3 if r["batches"] else None
        limit = 4 * batch_bytes[b] / 2**20 + 64
        bl = base.get(("trtq-lite", b))
        over = (r["rss_kib"] - bl["rss_kib"]) / 1024 if bl and bl["rc"] == 0 else None
        ratio = f["gb_per_s"] / c["ceiling_gb_per_s"] if (f and f["rc"] == 0 and c) else None
        wc = per / c["ceiling_batch_ms"] if (c and per is not None) else None
        wc_all = whole / c["ceiling_batch_ms"] if (c and whole is not None) else None
        # trtsim, in the same process, holds 2 batches of its own (its device-to-host copy and the
        # batch's absolute values); the target is about what trtq-lite holds.
        sim = 2 * batch_bytes[b] / 2**20
        own = over - sim if over is not None else None
        lines.append("  %s b%d: wait/copy after the 1st batch %s (<= 0.10: %s; whole run %s); feed/ceiling %s (>= 0.90: %s); peak RSS %d MiB, "
                     "over baseline %s MiB, less trtsim's 2 batches %s MiB (<= 4 x batch + 64 = %.0f MiB: %s)" % (
                         lname, b, fmt(wc, 3), "met" if wc is not None and wc <= 0.10 else "NOT met", fmt(wc_all, 3),
                         fmt(ratio, 3), "met" if ratio is not None and ratio >= 0.90 else "NOT met",
                         r["rss_kib"] // 1024, fmt(over, 0), fmt(own, 0), limit,
                         "met" if own is not None and own <= limit else "NOT met"))
    lines.append("columns: get_batch s = time TensorRT (trtsim) spent inside get_batch/getBatch (all calls, the "
                 "final 'no more batches' one included); 1st get_batch = the first call, which nothing can overlap; "
                 "wait/copy after 1st = the rest per batch / one batch's pinned copy time at the ceiling (as "
                 "bench-feed's wait_vs_copy); feed GB/s = the feed alone: "
                 "trtq-lite bench-feed on the same data (consumer 0 ms), the seed's bytes / get_batch time (its "
                 "copy is synchronous); ceiling = pinned cuMemcpyHtoDAsync of one batch (bench-feed, this run); "
                 "peak RSS = the process's ru_maxrss (wait4), trtsim's own buffers included; baseline = the same "
                 "tool on a 64x64 model with tiny samples.")
    if "stand-in" in str(info.get("gpu", "")):
        lines.append("NOTE: hostcuda stand-in: 'device' memory and copies are host memory and CPU memcpy, so RSS "
                     "includes device buffers and the GB/s are memcpy rates on this machine, not a GPU's.")
    text = "\n".join(lines)
    print("\n" + text)
    with open(os.path.join(DIR, "table.md"), "w") as f:
        f.write(text + "\n")
    bad = [r for _, _, r in rows if r["rc"] != 0] or ([] if all_same else ["caches"])
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
