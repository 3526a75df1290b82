#!/usr/bin/env python3
"""`trtq-lite calibrate` end to end on a GPU host, with the NVIDIA driver's libcuda, through
trtsim (issue 5: "the same flow runs on a machine with an NVIDIA GPU, with the real libcuda,
through trtsim"). Needs no Rust and no TensorRT there: a trtq-lite binary and trtsim built
elsewhere, python3 with numpy, the NVIDIA driver.

    # on the build machine
    cargo build --release && bash scripts/build-test-libs.sh
    # on the GPU host, in the repository root (target/release/trtq-lite and target/test-libs carried)
    python3 bench/calibrate_gpu.py                       # ~1 minute on an H200
    python3 bench/calibrate_gpu.py --samples 64 --keep   # smaller, keep the files

Options/environment: --bin (TRTQ_BIN, default target/release/trtq-lite), --trtsim (default
target/test-libs/trtsim), --cuda-lib (TRTQ_LIBCUDA, default: the system's libcuda.so.1),
--dir (default /tmp/trtq-calibrate-gpu), --samples (default 128), --batch (default 8),
--keep (keep the files), --stand-in (a dry run without a GPU: accept
--cuda-lib target/test-libs/hostcuda/libcuda.so.1).

What it does: writes a YOLO-like ONNX model with a dynamic batch and a 3x640x640 input (with
fixtures/onnx/make_models.py's writer) and a float32 data set twice (one .npy per sample, and
one big .npy). For trtsim 8.6 and 10.3 and every layout x feed mode it runs `calibrate --json`,
then checks: exit 0, the GPU is not the host stand-in, the batch count, for every batch the
byte count and the sum trtsim computed from the bytes it read back from device memory
(cuMemcpyDtoH_v2 of the real driver) against NumPy's sum of the same samples, the cache header
(inspect-cache --json). Then: a second run reuses the cache (no batch), and Ctrl-C during
calibration exits 130 with the cache untouched. Prints one table; exits 1 on any failure.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fixtures" / "onnx"))
import make_models as mm  # noqa: E402  (the fixtures' dependency-free ONNX writer)

FAILS = []


def check(ok, what):
    if not ok:
        FAILS.append(what)
        print("FAIL: " + what, flush=True)
    return ok


def yolo640():
    conv = mm.node(["images", "conv.weight", "conv.bias"], ["/model.0/conv/Conv_output_0"],
                   "/model.0/conv/Conv", "Conv",
                   [mm.attr_ints("kernel_shape", [3, 3]), mm.attr_ints("strides", [2, 2]),
                    mm.attr_ints("pads", [1, 1, 1, 1])])
    sig = mm.node(["/model.0/conv/Conv_output_0"], ["output0"], "/model.0/act/Sigmoid", "Sigmoid")
    return mm.model([conv, sig,
                     mm.initializer("conv.weight", [8, 3, 3, 3], mm.weights(8 * 27, 1)),
                     mm.initializer("conv.bias", [8], mm.weights(8, 5)),
                     mm.value_info(11, "images", mm.FLOAT, ["batch", 3, 640, 640]),
                     mm.value_info(12, "output0", mm.FLOAT, ["batch", 8, 320, 320])], "yolo640")


def traced_batches(trace):
    out = []
    if not trace.exists():
        return out
    for line in trace.read_text().splitlines():
        if line.startswith("batch "):
            w = line.split(" ")
            f = dict(x.split("=", 1) for x in w[5:] if "=" in x)
            out.append((int(w[1]), w[4], int(f["bytes"]), float(f["sum"])))
    return out


def run(cmd, env):
    t = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return p, time.time() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("TRTQ_BIN", str(ROOT / "target/release/trtq-lite")))
    ap.add_argument("--trtsim", default=str(ROOT / "target/test-libs/trtsim"))
    ap.add_argument("--cuda-lib", default=os.environ.get("TRTQ_LIBCUDA", ""))
    ap.add_argument("--dir", default="/tmp/trtq-calibrate-gpu")
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--stand-in", action="store_true",
                    help="accept the host-memory libcuda stand-in (a dry run of this script without a GPU)")
    a = ap.parse_args()
    d = Path(a.dir)
    d.mkdir(parents=True, exist_ok=True)
    (d / "yolo640.onnx").write_bytes(yolo640())
    shape = (3, 640, 640)
    rng = np.random.default_rng(5)
    data = rng.random((a.samples,) + shape, dtype=np.float32)
    (d / "files").mkdir(exist_ok=True)
    for i in range(a.samples):
        np.save(d / "files" / ("img_%05d.npy" % i), data[i])
    np.save(d / "big.npy", data)
    nb = a.samples // a.batch
    sums = [float(data[b * a.batch:(b + 1) * a.batch].astype(np.float64).sum()) for b in range(nb)]
    batch_bytes = a.batch * int(np.prod(shape)) * 4
    cuda = ["--cuda-lib", a.cuda_lib] if a.cuda_lib else []

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TRTSIM_", "TRTQ_", "HOSTCUDA_"))}
    if a.cuda_lib:
        env["TRTSIM_LIBCUDA"] = a.cuda_lib  # trtsim otherwise dlopens libcuda.so.1, as TensorRT does
    rows = []
    for major in (8, 10):
        for layout, src, feeds in (("files", d / "files", ("auto", "staged")),
                                   ("big", d / "big.npy", ("auto", "staged", "registered"))):
            for feed in feeds:
                tag = "%d-%s-%s" % (major, layout, feed)
                trace = d / ("trace-%s.txt" % tag)
                if trace.exists():
                    trace.unlink()
                cache, engine = d / ("c-%s.cache" % tag), d / ("m-%s.engine" % tag)
                cmd = [a.bin, "calibrate", str(d / "yolo640.onnx"), "--data", str(src),
                       "--batch-size", str(a.batch), "--cache", str(cache), "--engine", str(engine),
                       "--nvinfer", "%s/%d" % (a.trtsim, major), "--feed", feed, "--recalibrate"] + cuda
                p, secs = run(cmd + ["--json"], dict(env, TRTSIM_TRACE=str(trace)))
                if not check(p.returncode == 0, "%s: exit %d\n%s" % (tag, p.returncode, p.stderr)):
                    continue
                j = json.loads(p.stdout)
                check(a.stand_in or "hostcuda" not in j["gpu"], "%s: ran on %s" % (tag, j["gpu"]))
                check(j["simulator"] is True, "%s: not trtsim" % tag)
                check(j["batches"] == nb, "%s: %s batches, want %d" % (tag, j["batches"], nb))
                if feed != "auto":
                    check(j["feed_path"] == feed, "%s: feed_path %s" % (tag, j["feed_path"]))
                tb = traced_batches(trace)
                check(len(tb) == nb, "%s: trtsim saw %d batches" % (tag, len(tb)))
                for (i, _, nbytes, s) in tb:
                    check(nbytes == batch_bytes, "%s: batch %d has %d bytes" % (tag, i, nbytes))
                    want = sums[i] if i < nb else float("nan")
                    check(abs(s - want) <= 2e-6 * abs(want),
                          "%s: batch %d sum %.6e read back, data sum %.6e" % (tag, i, s, want))
                ic = subprocess.run([a.bin, "inspect-cache", str(cache), "--json"], capture_output=True, text=True)
                if check(ic.returncode == 0, "%s: inspect-cache: %s" % (tag, ic.stderr)):
                    h = json.loads(ic.stdout)
                    want = 8601 if major == 8 else 100300
                    check(h["trt_version_code"] == want and h["algorithm"] == "EntropyCalibration2",
                          "%s: cache header %s %s" % (tag, h["trt_version_code"], h["algorithm"]))
                rows.append((tag, j["feed_path"], j["batches"], j["calibration_s"], j["wait_s"],
                             j["feed_wait_s"], j["feed_gbps"], j["build_s"], secs))

        # Reuse: the cache of the last run, no batches, file untouched.
        before = cache.read_bytes(), cache.stat().st_mtime_ns
        p, _ = run([x for x in cmd if x != "--recalibrate"] + ["--json"], env)
        if check(p.returncode == 0, "%d reuse: exit %d\n%s" % (major, p.returncode, p.stderr)):
            j = json.loads(p.stdout)
            check(j["cache"]["action"] == "reused" and j["batches"] == 0, "%d reuse: %s" % (major, j))
            check((cache.read_bytes(), cache.stat().st_mtime_ns) == before, "%d reuse: cache changed" % major)

        # Ctrl-C after the first progress line: exit 130, cache untouched, no engine.
        engine.unlink()
        pr = subprocess.Popen(cmd, env=dict(env, TRTSIM_BATCH_DELAY_MS="200"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = ""
        while "calibrating: batch 1/" not in seen:
            line = pr.stderr.readline()
            if not line:
                break
            seen += line
        pr.send_signal(signal.SIGINT)
        _, rest = pr.communicate(timeout=120)
        check(pr.returncode == 130 and "interrupted" in seen + rest,
              "%d Ctrl-C: exit %s\n%s" % (major, pr.returncode, seen + rest))
        check((cache.read_bytes(), cache.stat().st_mtime_ns) == before, "%d Ctrl-C: cache changed" % major)
        check(not engine.exists(), "%d Ctrl-C: engine written" % major)

    print("\n%d samples of %s float32, batch %d (%d batches, %.1f MB each)" %
          (a.samples, "x".join(map(str, shape)), a.batch, nb, batch_bytes / 1e6))
    print("%-20s %-10s %7s %9s %8s %11s %9s %8s %8s" %
          ("run", "feed_path", "batches", "calib_s", "wait_s", "feed_wait_s", "feed_GB/s", "build_s", "wall_s"))
    for r in rows:
        print("%-20s %-10s %7d %9.3f %8.3f %11.3f %9.2f %8.3f %8.2f" % r)
    if not a.keep:
        import shutil
        shutil.rmtree(d, ignore_errors=True)
    print("\n%d checks failed" % len(FAILS) if FAILS else "\nall checks passed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
