#!/usr/bin/env python3
"""The seed's Python INT8 calibrator (../shared/seed-notes.md), as the benchmark's reference.

    python3 bench/seed_calibrator.py MODEL.onnx --data DIR_OR_NPY --batch-size B --cache FILE
        [--engine FILE] [--json FILE]

What the notes do, step by step, and nothing more:
  - `TRT_LOGGER = trt.Logger(trt.Logger.INFO)`;
  - manual CUDA init: cuInit, device 0, an own context (PyCUDA's `make_context()` =
    cuCtxCreate), popped and destroyed at the end;
  - the whole calibration set in RAM as ONE numpy array: `np.load` of a single .npy, or
    `np.concatenate` of the per-sample .npy files of a folder (sorted by name);
  - an `IInt8EntropyCalibrator2` subclass; `get_batch(names)` ignores `names`, slices the next
    batch, `.ravel()`s it and copies it with a synchronous pageable host-to-device copy into ONE
    device buffer of batch x C x H x W x 4 bytes, returning `[int(device_input)]`;
  - `read_calibration_cache` returns None, `write_calibration_cache` writes the file.

PyCUDA cannot be installed where this runs (no compiler, no network), so `_PyCudaLike` gives the
same calls with PyCUDA's semantics over ctypes on libcuda.so.1 (`pycuda.driver.memcpy_htod` is
cuMemcpyHtoD_v2 on the array's own, pageable memory; `mem_alloc` is cuMemAlloc_v2).
LIBCUDA (env) names another libcuda, e.g. the project's host-memory stand-in for tests.

Measured and written as JSON (--json): wall time, time inside get_batch, bytes fed, batches,
the time the set took to load, and this process's peak RSS (ru_maxrss).
"""
import argparse
import ctypes
import json
import os
import resource
import sys
import time

T0 = time.perf_counter()

import numpy as np  # noqa: E402

try:
    # What NVIDIA's tensorrt-cu12-bindings wheel installs; it opens the libnvinfer.so.10 that the
    # loader finds (trtsim in the benchmark). `import tensorrt` (the meta package) would first
    # preload NVIDIA's tensorrt_libs where those are installed.
    import tensorrt_bindings as trt  # noqa: E402
except ImportError:
    import tensorrt as trt  # noqa: E402


class CudaError(RuntimeError):
    pass


class _PyCudaLike:
    """The part of pycuda.driver the seed uses, over ctypes."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        L = self.lib
        for name in ("cuInit", "cuDeviceGet", "cuCtxCreate_v2", "cuCtxPopCurrent_v2", "cuCtxDestroy_v2",
                     "cuMemAlloc_v2", "cuMemFree_v2", "cuMemcpyHtoD_v2", "cuGetErrorName"):
            getattr(L, name).restype = ctypes.c_int
        L.cuDeviceGet.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        L.cuCtxCreate_v2.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_uint, ctypes.c_int]
        L.cuCtxPopCurrent_v2.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        L.cuCtxDestroy_v2.argtypes = [ctypes.c_void_p]
        L.cuMemAlloc_v2.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t]
        L.cuMemFree_v2.argtypes = [ctypes.c_uint64]
        L.cuMemcpyHtoD_v2.argtypes = [ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t]
        L.cuGetErrorName.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]

    def _check(self, rc, call):
        if rc != 0:
            s = ctypes.c_char_p()
            self.lib.cuGetErrorName(rc, ctypes.byref(s))
            raise CudaError("%s failed: %s (%d)" % (call, (s.value or b"?").decode(), rc))

    # cuda.init()
    def init(self):
        self._check(self.lib.cuInit(0), "cuInit")

    # cuda.Device(0).make_context(): a new context, current on this thread
    def make_context(self, ordinal):
        dev = ctypes.c_int()
        self._check(self.lib.cuDeviceGet(ctypes.byref(dev), ordinal), "cuDeviceGet")
        ctx = ctypes.c_void_p()
        self._check(self.lib.cuCtxCreate_v2(ctypes.byref(ctx), 0, dev), "cuCtxCreate_v2")
        return ctx

    # ctx.pop(); ctx.detach()
    def destroy_context(self, ctx):
        popped = ctypes.c_void_p()
        self._check(self.lib.cuCtxPopCurrent_v2(ctypes.byref(popped)), "cuCtxPopCurrent_v2")
        self._check(self.lib.cuCtxDestroy_v2(ctx), "cuCtxDestroy_v2")

    # cuda.mem_alloc(n)
    def mem_alloc(self, n):
        p = ctypes.c_uint64()
        self._check(self.lib.cuMemAlloc_v2(ctypes.byref(p), n), "cuMemAlloc_v2(%d)" % n)
        return p.value

    def mem_free(self, p):
        self._check(self.lib.cuMemFree_v2(p), "cuMemFree_v2")

    # cuda.memcpy_htod(dest, src): synchronous, from the array's own (pageable) memory
    def memcpy_htod(self, dest, src):
        if not src.flags.c_contiguous:
            raise ValueError("memcpy_htod needs a contiguous array")
        self._check(self.lib.cuMemcpyHtoD_v2(dest, src.ctypes.data, src.nbytes), "cuMemcpyHtoD_v2")


cuda = _PyCudaLike(os.environ.get("LIBCUDA") or "libcuda.so.1")

TRT_LOGGER = trt.Logger(trt.Logger.INFO)


def load_set(path):
    """The whole calibration set as one array in RAM, as the seed does."""
    if os.path.isdir(path):
        files = sorted(f for f in os.listdir(path) if f.endswith(".npy"))
        return np.concatenate([np.load(os.path.join(path, f))[np.newaxis] for f in files])
    return np.load(path)


class SeedCalibrator(trt.IInt8EntropyCalibrator2):
    def __init__(self, data, batch_size, cache_file):
        trt.IInt8EntropyCalibrator2.__init__(self)
        self.data = data
        self.batch_size = batch_size
        self.cache_file = cache_file
        self.current_index = 0
        _, c, h, w = data.shape
        self.device_input = cuda.mem_alloc(batch_size * c * h * w * 4)  # float32 size
        # measurements (not in the seed)
        self.get_batch_s = 0.0
        self.first_get_batch_s = None
        self.bytes_fed = 0
        self.batches = 0

    def get_batch_size(self):
        return self.batch_size

    def get_batch(self, names):
        t = time.perf_counter()
        try:
            # Ignore 'names', just feed your batch
            if self.current_index + self.batch_size > len(self.data):
                return None  # no more batches
            batch = self.data[self.current_index:self.current_index + self.batch_size].ravel()
            cuda.memcpy_htod(self.device_input, batch)
            self.current_index += self.batch_size
            self.bytes_fed += batch.nbytes
            self.batches += 1
            return [int(self.device_input)]
        finally:
            spent = time.perf_counter() - t
            self.get_batch_s += spent
            if self.first_get_batch_s is None:
                self.first_get_batch_s = spent

    def read_calibration_cache(self):
        return None

    def write_calibration_cache(self, cache):
        with open(self.cache_file, "wb") as f:
            f.write(cache)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--data", required=True)
    ap.add_argument("--batch-size", type=int, required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--engine")
    ap.add_argument("--input", default="images")
    ap.add_argument("--json")
    a = ap.parse_args()

    cuda.init()
    ctx = cuda.make_context(0)
    try:
        t = time.perf_counter()
        data = load_set(a.data)
        load_s = time.perf_counter() - t
        calib = SeedCalibrator(data, a.batch_size, a.cache)
        try:
            builder = trt.Builder(TRT_LOGGER)
            network = builder.create_network(0)
            parser = trt.OnnxParser(network, TRT_LOGGER)
            with open(a.model, "rb") as f:
                if not parser.parse(f.read()):
                    raise SystemExit("ONNX parse failed: " + "; ".join(
                        str(parser.get_error(i).desc()) for i in range(parser.num_errors)))
            config = builder.create_builder_config()
            config.set_flag(trt.BuilderFlag.INT8)
            config.int8_calibrator = calib
            # Dynamic batch: an optimization profile 1..B, and B for calibration.
            chw = tuple(data.shape[1:])
            profile = builder.create_optimization_profile()
            profile.set_shape(a.input, (1,) + chw, (a.batch_size,) + chw, (a.batch_size,) + chw)
            config.add_optimization_profile(profile)
            config.set_calibration_profile(profile)
            t = time.perf_counter()
            plan = builder.build_serialized_network(network, config)
            build_s = time.perf_counter() - t
            if plan is None:
                raise SystemExit("build_serialized_network returned None")
            if a.engine:
                with open(a.engine, "wb") as f:
                    f.write(plan)
        finally:
            cuda.mem_free(calib.device_input)
    finally:
        cuda.destroy_context(ctx)

    out = {
        "tool": "seed-python",
        "trt_version": trt.__version__,
        "batch_size": a.batch_size,
        "batches": calib.batches,
        "samples_in_ram": int(data.shape[0]),
        "set_bytes_in_ram": int(data.nbytes),
        "bytes_fed": calib.bytes_fed,
        "load_s": load_s,
        "build_s": build_s,
        "get_batch_s": calib.get_batch_s,
        "first_get_batch_s": calib.first_get_batch_s or 0.0,
        "wall_s": time.perf_counter() - T0,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    text = json.dumps(out, indent=1)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    sys.exit(main())
