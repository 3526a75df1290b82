#!/usr/bin/env python3
"""Conformance: NVIDIA's compiled TensorRT Python bindings drive trtsim.

Run by scripts/test.d/30-conformance.sh, once per (bindings wheel, TRTSIM_VERSION), each in its
own process, with the wheel's `tensorrt_bindings` on PYTHONPATH, trtsim's libraries and hostcuda's
libcuda.so.1 on LD_LIBRARY_PATH. trtsim is compiled from OUR declarations (shim/abi/), and the
bindings were compiled by NVIDIA from the official headers, so every value below crosses a
vtable slot or an argument passing convention that both sides must agree on.

Every check compares what one side sent with what the other side saw: Python values against
TRTSIM_TRACE lines written by trtsim, batch checksums against the bytes the calibrator uploaded,
cache and plan bytes against independent computations. Prints "N passed, N failed" last.
"""
import ctypes
import os
import re
import struct
import subprocess
import sys
import tempfile
import traceback

import numpy as np
import tensorrt_bindings as trt

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "fixtures", "onnx")
SIM_VERSION = int(os.environ["TRTSIM_VERSION"])
MAJOR = 8 if SIM_VERSION < 100000 else 10
WHEEL = trt.__version__
# The version the bindings' header passes to createInferBuilder_INTERNAL (NV_TENSORRT_VERSION).
_w = [int(x) for x in WHEEL.split(".")[:3]]
HEADER_VERSION = _w[0] * 1000 + _w[1] * 100 + _w[2] if _w[0] < 10 else _w[0] * 10000 + _w[1] * 100 + _w[2]
FACTS_VERSION = {"8.6.1": "8.6.1", "10.3.0": "10.3.0"}.get(".".join(WHEEL.split(".")[:3]))
if FACTS_VERSION is None and _w[0] == 10 and _w[1] >= 16:
    FACTS_VERSION = "10.16"


def shared_dir():
    for d in (os.environ.get("SHARED_DIR"), os.path.join(ROOT, "..", "shared"), "/work/shared"):
        if d and os.path.isdir(os.path.join(d, "abi-facts")):
            return d
    return None


# ---- tiny test runner ----------------------------------------------------------------------
RESULTS = []


def test(fn):
    RESULTS.append(fn)
    return fn


class Trace:
    """A fresh TRTSIM_TRACE file for one test."""

    def __init__(self):
        fd, self.path = tempfile.mkstemp(prefix="trtsim-trace-")
        os.close(fd)
        os.environ["TRTSIM_TRACE"] = self.path

    def lines(self):
        with open(self.path) as f:
            return [l.rstrip("\n") for l in f]

    def grep(self, prefix):
        return [l for l in self.lines() if l.startswith(prefix)]

    def close(self):
        os.environ.pop("TRTSIM_TRACE", None)
        os.unlink(self.path)


class Logger(trt.ILogger):
    def __init__(self):
        trt.ILogger.__init__(self)
        self.msgs = []

    def log(self, severity, msg):
        self.msgs.append((severity, msg))

    def find(self, severity, text):
        return [m for s, m in self.msgs if s == severity and text in m]


def fnv1a(data):
    h = 1469598103934665603
    for b in data:
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def f32hex(x):
    return "%08x" % struct.unpack("<I", struct.pack("<f", x))[0]


def hexf32(h):
    return struct.unpack("<f", struct.pack("<I", int(h, 16)))[0]


def read(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return f.read()


def net_flags():
    return (1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)) if MAJOR == 8 else 0


def make(model, logger=None):
    logger = logger or Logger()
    builder = trt.Builder(logger)
    network = builder.create_network(net_flags())
    parser = trt.OnnxParser(network, logger)
    ok = parser.parse(read(model))
    assert ok, [parser.get_error(i).desc() for i in range(parser.num_errors)]
    return logger, builder, network, parser


# ---- hostcuda through ctypes (like a PyCUDA calibrator, without PyCUDA) ---------------------
class Cuda:
    def __init__(self):
        self.lib = ctypes.CDLL("libcuda.so.1")
        for name in ("cuInit", "cuDeviceGet", "cuCtxCreate_v2", "cuMemAlloc_v2", "cuMemcpyHtoD_v2", "cuMemFree_v2"):
            getattr(self.lib, name).restype = ctypes.c_int
        self.lib.cuMemAlloc_v2.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.c_size_t]
        self.lib.cuMemcpyHtoD_v2.argtypes = [ctypes.c_uint64, ctypes.c_void_p, ctypes.c_size_t]
        self.lib.cuMemFree_v2.argtypes = [ctypes.c_uint64]
        assert self.lib.cuInit(0) == 0
        dev = ctypes.c_int()
        assert self.lib.cuDeviceGet(ctypes.byref(dev), 0) == 0
        self.ctx = ctypes.c_void_p()
        assert self.lib.cuCtxCreate_v2(ctypes.byref(self.ctx), 0, dev) == 0

    def alloc(self, n):
        p = ctypes.c_uint64()
        assert self.lib.cuMemAlloc_v2(ctypes.byref(p), n) == 0
        return p.value

    def htod(self, dst, arr):
        arr = np.ascontiguousarray(arr)
        assert self.lib.cuMemcpyHtoD_v2(dst, arr.ctypes.data, arr.nbytes) == 0


CUDA = None


def cuda():
    global CUDA
    if CUDA is None:
        CUDA = Cuda()
    return CUDA


def batches_for(shapes, n, seed=7):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        b = []
        for shape in shapes:
            a = rng.standard_normal(shape).astype(np.float32)
            a.flat[0] = 6.5  # an outlier, so entropy thresholds differ from max |x|
            b.append(a)
        out.append(b)
    return out


def capsule_bytes(cap, n):
    if not type(cap).__name__ == "PyCapsule":
        return bytes(cap)[:n]
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return ctypes.string_at(api.PyCapsule_GetPointer(cap, api.PyCapsule_GetName(cap)), n)


def make_calibrator(base, batches, cache=None, extra=None):
    """A calibrator of class `base` (one of the trt.IInt8*Calibrator) fed from `batches`."""

    class Cal(base):
        def __init__(self):
            base.__init__(self)
            self.batches = batches
            self.i = 0
            self.names_seen = []
            self.written = None
            self.hist_written = None
            self.hist_read = 0
            self.cache_reads = 0
            self.ptrs = [cuda().alloc(a.nbytes) for a in batches[0]] if batches else []

        def get_batch_size(self):
            return 1

        def get_batch(self, names, *args):
            self.names_seen.append(list(names))
            if self.i >= len(self.batches):
                return None
            for p, a in zip(self.ptrs, self.batches[self.i]):
                cuda().htod(p, a)
            self.i += 1
            return list(self.ptrs) if not (extra and extra.get("null")) else [0] * len(self.ptrs)

        def read_calibration_cache(self, *args):
            self.cache_reads += 1
            return cache

        def write_calibration_cache(self, data, *args):
            self.written = bytes(data)

        # legacy only
        def get_quantile(self):
            return 0.999

        def get_regression_cutoff(self):
            return 0.5

        def read_histogram_cache(self, *args):
            self.hist_read += 1
            return None

        def write_histogram_cache(self, data, *args):
            # The bindings pass (PyCapsule holding the pointer, length) here.
            self.hist_written = capsule_bytes(data, args[0]) if args else bytes(data)

    return Cal()


ALGOS = [
    ("entropy2", trt.IInt8EntropyCalibrator2, 2, "EntropyCalibration2", "IInt8EntropyCalibrator2"),
    ("minmax", trt.IInt8MinMaxCalibrator, 3, "MinMaxCalibration", "IInt8MinMaxCalibrator"),
    ("entropy", trt.IInt8EntropyCalibrator, 1, "EntropyCalibration", "IInt8EntropyCalibrator"),
    ("legacy", trt.IInt8LegacyCalibrator, 0, "LegacyCalibration", "IInt8Calibrator"),
]


def reference_threshold(algo, absvals, quantile=0.999):
    """The documented algorithms, written independently of trtsim's C++ (numpy)."""
    amax = float(absvals.max())
    if algo == "minmax":
        return amax
    if algo == "legacy":
        s = np.sort(absvals)
        return float(s[int(quantile * (len(s) - 1) + 0.5)])
    bins = 2048
    width = amax / bins
    idx = np.minimum((absvals.astype(np.float64) / width).astype(np.int64), bins - 1)
    hist = np.bincount(idx, minlength=bins).astype(np.float64)
    best, best_i = np.inf, bins
    for i in range(128, bins + 1):
        p = hist[:i].copy()
        if algo == "entropy2":
            p[i - 1] += hist[i:].sum()
        q = np.zeros(i)
        for k in range(128):
            s, e = k * i // 128, (k + 1) * i // 128
            seg = hist[s:e]
            nz = np.count_nonzero(seg)
            if nz:
                q[s:e] = np.where(seg != 0, seg.sum() / nz, 0.0)
        if p.sum() == 0 or q.sum() == 0:
            continue
        pn, qn = p / p.sum(), q / q.sum()
        m = pn > 0
        kl = float(np.sum(pn[m] * np.log(pn[m] / np.maximum(qn[m], 1e-12))))
        if kl < best:
            best, best_i = kl, i
    return (best_i + 0.5) * width


def plan_fields(plan):
    text = bytes(plan).decode()
    assert text.startswith("TRTSIM-PLAN 1\n"), text[:40]
    fields = {}
    for line in text.splitlines()[1:]:
        k, _, v = line.partition(" ")
        fields.setdefault(k, []).append(v)
    return fields


# ---- tests -----------------------------------------------------------------------------------
@test
def versions_and_builder_creation():
    tr = Trace()
    try:
        lib = ctypes.CDLL("libnvinfer.so.%d" % MAJOR)
        lib.getInferLibVersion.restype = ctypes.c_int
        assert lib.getInferLibVersion() == SIM_VERSION
        parser_lib = ctypes.CDLL("libnvonnxparser.so.%d" % MAJOR)
        assert parser_lib.getNvOnnxParserVersion() == SIM_VERSION
        log = Logger()
        b = trt.Builder(log)
        created = tr.grep("createInferBuilder_INTERNAL")
        assert created == ["createInferBuilder_INTERNAL header_version=%d library=%d" % (HEADER_VERSION, SIM_VERSION)], created
        # ILogger::log slot and Severity values: trtsim sends kINFO (3) through OUR ILogger declaration.
        assert log.find(trt.ILogger.Severity.INFO, "simulated TensorRT %d" % SIM_VERSION), log.msgs
        assert b.platform_has_fast_int8 and b.platform_has_fast_fp16 and b.platform_has_tf32
        assert b.num_DLA_cores == 0
        os.environ["TRTSIM_DLA_CORES"] = "2"
        assert b.num_DLA_cores == 2 and b.max_DLA_batch_size == 4096
        os.environ.pop("TRTSIM_DLA_CORES")
        b.max_threads = 3
        assert b.max_threads == 3
        if MAJOR == 8:
            b.max_batch_size = 5
            assert b.max_batch_size == 5
    finally:
        tr.close()


@test
def onnx_static_model_crosses_the_abi():
    log, b, n, p = make("yolo_static.onnx")
    assert n.num_inputs == 1 and n.num_outputs == 1 and n.num_layers == 2
    t = n.get_input(0)
    assert (t.name, tuple(t.shape), t.dtype) == ("images", (1, 3, 64, 64), trt.float32)
    assert t.is_network_input and not t.is_network_output
    o = n.get_output(0)
    assert (o.name, tuple(o.shape), o.dtype) == ("output0", (1, 8, 32, 32), trt.float32)
    assert o.is_network_output
    assert n.has_implicit_batch_dimension is False
    n.name = "renamed"
    assert n.name == "renamed"
    if MAJOR == 10:
        assert n.get_flag(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) is False
    assert log.find(trt.ILogger.Severity.INFO, "ONNX IR version: 8, opset version: 13")


@test
def onnx_dynamic_two_input_and_int_models():
    _, _, n, _ = make("yolo_dynamic.onnx")
    assert tuple(n.get_input(0).shape) == (-1, 3, 64, 64)
    assert tuple(n.get_output(0).shape) == (-1, 8, 32, 32)
    _, _, n, _ = make("two_inputs.onnx")
    assert [n.get_input(i).name for i in range(n.num_inputs)] == ["left", "right"]
    assert tuple(n.get_input(1).shape) == (1, 1, 32, 32)
    log, _, n, _ = make("int_input.onnx")
    tokens, mask = n.get_input(0), n.get_input(1)
    assert tokens.dtype == (trt.int32 if MAJOR == 8 else trt.int64), tokens.dtype
    assert mask.dtype == trt.bool
    assert tuple(tokens.shape) == (-1, 16)
    if MAJOR == 8:
        assert log.find(trt.ILogger.Severity.WARNING, "cast down to INT32")


@test
def network_add_input_and_tensor_dims_by_value():
    # 8.x passes Dims32 by value (36-byte stack copy), 10.x Dims64 by reference.
    tr = Trace()
    try:
        b = trt.Builder(Logger())
        n = b.create_network(net_flags())
        t = n.add_input("x", trt.float16, (2, 3, 5, 7, 11, 13, 17, 19))
        assert tuple(t.shape) == (2, 3, 5, 7, 11, 13, 17, 19) and t.dtype == trt.float16
        assert tr.grep("INetworkDefinition::addInput x") == ["INetworkDefinition::addInput x type=1 nbDims=8 2x3x5x7x11x13x17x19"]
        t.shape = (4, -1, 6)
        assert tuple(t.shape) == (4, -1, 6)
        assert tr.grep("ITensor::setDimensions") == ["ITensor::setDimensions x nbDims=3 4x-1x6"]
        t.name = "y"
        assert t.name == "y"
        t.dtype = trt.float32
        assert t.dtype == trt.float32
        t.dynamic_range = (-2.5, 2.5)
        assert tr.grep("ITensor::setDynamicRange") == ["ITensor::setDynamicRange y -2.5 2.5"]
        n.mark_output(t)
        assert n.num_outputs == 1 and n.get_output(0).name == "y" and t.is_network_output
        t.set_dimension_name(1, "batch")
        assert t.get_dimension_name(1) == "batch"
    finally:
        tr.close()


@test
def parser_errors_with_nodes():
    log = Logger()
    b = trt.Builder(log)
    n = b.create_network(net_flags())
    p = trt.OnnxParser(n, log)
    assert not p.parse(read("unsupported_op.onnx"))
    assert p.num_errors == 1
    e = p.get_error(0)
    assert e.code() == trt.ErrorCode.UNSUPPORTED_NODE, e.code()
    assert e.node() == 1 and "NoSuchOp" in e.desc()
    assert e.file().endswith("onnx.cpp") and e.line() > 0 and e.func() == "importNode"
    if MAJOR == 10:
        assert e.node_name() == "mystery" and e.node_operator() == "NoSuchOp"
        assert e.local_function_stack_size() == 0
    assert log.find(trt.ILogger.Severity.ERROR, "while parsing node number 1")
    p.clear_errors()
    assert p.num_errors == 0
    assert not p.parse(read("truncated.onnx"))
    e = p.get_error(0)
    assert e.code() == trt.ErrorCode.MODEL_DESERIALIZE_FAILED and e.node() == -1
    assert "Failed to parse the ONNX model" in e.desc()
    assert not p.parse(read("no_graph.onnx"))
    assert p.get_error(0).code() == trt.ErrorCode.INVALID_GRAPH
    assert p.supports_operator("Conv") and not p.supports_operator("NoSuchOp")
    assert p.parse_from_file(os.path.join(FIX, "yolo_static.onnx"))
    assert n.num_inputs == 1
    assert not p.parse_from_file(os.path.join(FIX, "does-not-exist.onnx"))
    assert "does-not-exist.onnx" in p.get_error(0).desc()


@test
def parser_needs_explicit_batch_on_8x():
    if MAJOR != 8:
        return
    log = Logger()
    b = trt.Builder(log)
    n = b.create_network(0)
    assert n.has_implicit_batch_dimension
    p = trt.OnnxParser(n, log)
    assert not p.parse(read("yolo_static.onnx"))
    assert "EXPLICIT_BATCH" in p.get_error(0).desc()


@test
def config_values_cross_the_abi():
    tr = Trace()
    try:
        log, b, n, p = make("yolo_dynamic.onnx")
        c = b.create_builder_config()
        c.set_flag(trt.BuilderFlag.INT8)
        c.set_flag(trt.BuilderFlag.FP16)
        c.set_flag(trt.BuilderFlag.GPU_FALLBACK)
        assert c.get_flag(trt.BuilderFlag.INT8) and c.get_flag(trt.BuilderFlag.FP16)
        assert c.flags == (1 << int(trt.BuilderFlag.INT8)) | (1 << int(trt.BuilderFlag.FP16)) | (1 << int(trt.BuilderFlag.GPU_FALLBACK))
        c.clear_flag(trt.BuilderFlag.FP16)
        assert not c.get_flag(trt.BuilderFlag.FP16)
        c.flags = 1 << int(trt.BuilderFlag.INT8)
        assert tr.grep("IBuilderConfig::setFlags") == ["IBuilderConfig::setFlags 0x2"]
        c.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 123456789)
        assert c.get_memory_pool_limit(trt.MemoryPoolType.WORKSPACE) == 123456789
        if MAJOR == 8:
            c.max_workspace_size = 1 << 22
            assert c.max_workspace_size == 1 << 22
        c.DLA_core = 1
        assert c.DLA_core == 1
        c.default_device_type = trt.DeviceType.DLA
        assert c.default_device_type == trt.DeviceType.DLA
        prof = b.create_optimization_profile()
        prof.set_shape("images", (1, 3, 64, 64), (2, 3, 64, 64), (4, 3, 64, 64))
        assert [tuple(s) for s in prof.get_shape("images")] == [(1, 3, 64, 64), (2, 3, 64, 64), (4, 3, 64, 64)]
        sel = tr.grep("IOptimizationProfile::setDimensions")
        assert sel == ["IOptimizationProfile::setDimensions images sel=%d nbDims=4 %dx3x64x64" % (s, d) for s, d in ((0, 1), (1, 2), (2, 4))], sel
        assert bool(prof)
        assert c.add_optimization_profile(prof) == 0 and c.num_optimization_profiles == 1
        assert c.set_calibration_profile(prof)
        assert c.get_calibration_profile() is not None
        cal = make_calibrator(trt.IInt8EntropyCalibrator2, [])
        c.int8_calibrator = cal
        assert tr.grep("IBuilderConfig::setInt8Calibrator") == ["IBuilderConfig::setInt8Calibrator set"]
        assert c.int8_calibrator is not None
    finally:
        tr.close()


def calibrate_static(algo_tuple, cache=None, nbatches=3):
    name, base, code, cache_name, kind = algo_tuple
    log, b, n, p = make("yolo_static.onnx")
    c = b.create_builder_config()
    c.set_flag(trt.BuilderFlag.INT8)
    batches = batches_for([(1, 3, 64, 64)], nbatches)
    cal = make_calibrator(base, batches, cache=cache)
    c.int8_calibrator = cal
    plan = b.build_serialized_network(n, c)
    return log, cal, batches, plan


def check_calibration(algo_tuple):
    name, base, code, cache_name, kind = algo_tuple
    tr = Trace()
    try:
        log, cal, batches, plan = calibrate_static(algo_tuple)
        assert plan is not None, log.msgs
        # protocol order: algorithm, cache read, batch size, batches until false, cache write
        seq = [l.split(" ")[0] for l in tr.lines() if l.split(" ")[0] in
               ("calibrator", "readCalibrationCache", "getBatchSize", "getBatch", "writeCalibrationCache")]
        assert seq == ["calibrator", "readCalibrationCache", "getBatchSize"] + ["getBatch"] * 4 + ["writeCalibrationCache"], seq
        # getAlgorithm() slot, RTTI class names (dynamic_cast across the two compilers), and on
        # 10.x the IVersionedInterface slots: getAPILanguage() (kCPP = 0 for pybind11 trampolines)
        # and getInterfaceInfo() returned in registers.
        ident = tr.grep("calibrator algorithm=")[0]
        want = "calibrator algorithm=%d rtti=%s" % (code, base.__name__)
        if MAJOR == 10:
            want += " api_language=0 interface=%s 1.0" % kind
        assert ident == want, (ident, want)
        assert cal.names_seen == [["images"]] * 4, cal.names_seen
        # every batch trtsim copied back with cuMemcpyDtoH_v2 is byte-identical to what we uploaded
        for i, (a,) in enumerate(batches):
            line = tr.grep("batch %d input 0 images " % i)
            want = "batch %d input 0 images bytes=%d fnv=%016x" % (i, a.nbytes, fnv1a(a.tobytes()))
            assert line and line[0].startswith(want), (line, want)
        # the cache: TensorRT format, our algorithm and version, scale = threshold / 127
        text = cal.written.decode()
        lines = text.splitlines()
        assert text.endswith("\n") and lines[0] == "TRT-%d-%s" % (SIM_VERSION, cache_name), lines[0]
        entries = dict(l.rsplit(": ", 1) for l in lines[1:])
        assert list(entries)[0] == "images" and "output0" in entries and "/model.0/conv/Conv_output_0" in entries
        absvals = np.abs(np.concatenate([a.ravel() for (a,) in batches]))
        ref = reference_threshold(name, absvals) / 127.0
        got = hexf32(entries["images"])
        assert abs(got - ref) <= 1e-6 * ref, (name, got, ref)
        if name == "minmax":
            assert entries["images"] == f32hex(np.float32(6.5) / np.float32(127.0))
        if name == "legacy":
            assert tr.grep("legacy dynamic_cast") == ["legacy dynamic_cast ok"]
            assert tr.grep("legacy quantile=") == ["legacy quantile=0.999 regression_cutoff=0.5"]
            assert cal.hist_read == 1 and cal.hist_written.startswith(b"TRTSIM-HISTOGRAM 1\n")
        # the plan came back through IHostMemory data()/size()/type()
        assert plan.nbytes == len(bytes(plan)) and plan.dtype == trt.uint8
        f = plan_fields(plan)
        assert f["version"] == [str(SIM_VERSION)] and f["header_version"] == [str(HEADER_VERSION)]
        assert f["int8"] == ["1"] and f["calibration"] == ["calibration %s batches 3" % cache_name]
        assert "images %s" % entries["images"] in f["scale"]
        assert f["input"] == ["images FLOAT 1x3x64x64"] and f["output"] == ["output0 FLOAT 1x8x32x32"]
        assert log.find(trt.ILogger.Severity.INFO, "Starting Calibration.")
        return cal.written, bytes(plan)
    finally:
        tr.close()


def _calib_test(t):
    def run():
        first = check_calibration(t)
        second = check_calibration(t)
        assert first == second, "calibration is not deterministic"
    run.__name__ = "calibration_protocol_" + t[0]
    return run


for _t in ALGOS:
    test(_calib_test(_t))


@test
def calibration_cache_reused_and_rejected():
    algo = ALGOS[0]
    tr = Trace()
    try:
        _, cal, _, plan = calibrate_static(algo)
        cache = cal.written
        scale_line = [l for l in bytes(plan).decode().splitlines() if l.startswith("scale images")]
    finally:
        tr.close()
    tr = Trace()
    try:
        log, cal2, _, plan2 = calibrate_static(algo, cache=cache)
        assert plan2 is not None
        assert not tr.grep("getBatch") and cal2.written is None and cal2.cache_reads == 1
        assert tr.grep("readCalibrationCache") == ["readCalibrationCache ptr=set len=%d fnv=%016x" % (len(cache), fnv1a(cache))]
        f = plan_fields(plan2)
        assert f["calibration"] == ["cache EntropyCalibration2 batches 0"]
        assert [l for l in bytes(plan2).decode().splitlines() if l.startswith("scale images")] == scale_line
    finally:
        tr.close()
    for bad in (cache.replace(b"TRT-%d-" % SIM_VERSION, b"TRT-8400-"),
                cache.replace(b"EntropyCalibration2", b"MinMaxCalibration")):
        tr = Trace()
        try:
            log, cal3, _, plan3 = calibrate_static(algo, cache=bad)
            assert plan3 is not None
            assert log.find(trt.ILogger.Severity.WARNING, "calibration cache was not used"), log.msgs
            assert len(tr.grep("getBatch ")) == 4 and cal3.written == cache
        finally:
            tr.close()


@test
def no_batches_and_null_pointer_fail_like_tensorrt():
    log, cal, _, plan = calibrate_static(ALGOS[0], nbatches=0)
    assert plan is None
    assert log.find(trt.ILogger.Severity.ERROR, "Calibration failure occurred with no scaling factors detected")
    assert cal.written is None
    log, b, n, p = make("yolo_static.onnx")
    c = b.create_builder_config()
    c.set_flag(trt.BuilderFlag.INT8)
    cal = make_calibrator(trt.IInt8EntropyCalibrator2, batches_for([(1, 3, 64, 64)], 1), extra={"null": True})
    c.int8_calibrator = cal
    assert b.build_serialized_network(n, c) is None
    assert log.find(trt.ILogger.Severity.ERROR, "device pointer for input 'images' is null")


@test
def dynamic_batch_profiles_and_calibration_profile():
    log, b, n, p = make("yolo_dynamic.onnx")
    c = b.create_builder_config()
    assert b.build_serialized_network(n, c) is None
    assert log.find(trt.ILogger.Severity.ERROR, "Network has dynamic or shape inputs, but no optimization profile has been defined.")
    bad = b.create_optimization_profile()
    bad.set_shape("images", (1, 3, 64, 64), (1, 3, 64, 64), (1, 3, 64, 64))
    # opt below min is refused by setDimensions, max above opt is fine
    tr = Trace()
    try:
        prof = b.create_optimization_profile()
        prof.set_shape("images", (1, 3, 64, 64), (2, 3, 64, 64), (4, 3, 64, 64))
        c.add_optimization_profile(prof)
        c.set_flag(trt.BuilderFlag.INT8)
        c.set_calibration_profile(prof)
        batches = batches_for([(2, 3, 64, 64)], 2)
        cal = make_calibrator(trt.IInt8MinMaxCalibrator, batches)
        c.int8_calibrator = cal
        plan = b.build_serialized_network(n, c)
        assert plan is not None, log.msgs
        f = plan_fields(plan)
        assert f["profile"] == ["0 images min 1x3x64x64 opt 2x3x64x64 max 4x3x64x64"] and f["calibration_profile"] == ["0"]
        line = tr.grep("batch 1 input 0 images ")[0]
        assert ("bytes=%d fnv=%016x" % (batches[1][0].nbytes, fnv1a(batches[1][0].tobytes()))) in line
    finally:
        tr.close()


@test
def invalid_profiles_are_refused():
    log, b, n, p = make("yolo_dynamic.onnx")
    prof = b.create_optimization_profile()
    raised = False
    try:
        prof.set_shape("images", (4, 3, 64, 64), (2, 3, 64, 64), (1, 3, 64, 64))
    except Exception:
        raised = True
    assert raised or log.find(trt.ILogger.Severity.ERROR, "need min <= opt <= max"), log.msgs
    c = b.create_builder_config()
    # a profile for the wrong rank fails the build with a clear error
    wrong = b.create_optimization_profile()
    wrong.set_shape("images", (1, 3, 64), (1, 3, 64), (1, 3, 64))
    assert c.add_optimization_profile(wrong) == 0
    assert b.build_serialized_network(n, c) is None
    assert log.find(trt.ILogger.Severity.ERROR, "have 3 dimensions, the input has 4")


@test
def dla_fallback_fp16_and_memory_pool():
    log, b, n, p = make("yolo_static.onnx")
    c = b.create_builder_config()
    c.default_device_type = trt.DeviceType.DLA
    c.DLA_core = 0
    assert b.build_serialized_network(n, c) is None
    assert log.find(trt.ILogger.Severity.ERROR, "kGPU_FALLBACK is not set")
    c.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    c.set_flag(trt.BuilderFlag.FP16)
    plan = b.build_serialized_network(n, c)
    f = plan_fields(plan)
    assert f["device"] == ["GPU (DLA fallback)"] and f["dla_core"] == ["0"] and f["fp16"] == ["1"]
    assert f["builder_flags"] == ["0x%x" % c.flags]
    os.environ["TRTSIM_DLA_CORES"] = "2"
    try:
        assert plan_fields(b.build_serialized_network(n, c))["device"] == ["DLA:0"]
    finally:
        os.environ.pop("TRTSIM_DLA_CORES")
    c.default_device_type = trt.DeviceType.GPU
    c.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1000)
    assert b.build_serialized_network(n, c) is None
    assert log.find(trt.ILogger.Severity.ERROR, "Insufficient workspace")
    c.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 20)
    assert plan_fields(b.build_serialized_network(n, c))["memory_pool"] == ["0 1048576"]


@test
def fault_knobs():
    for knob in ("builder", "parser", "build"):
        os.environ["TRTSIM_FAIL"] = knob
        try:
            log = Logger()
            try:
                b = trt.Builder(log)
            except Exception:
                b = None
            if knob == "builder":
                assert b is None or not b, b
                continue
            n = b.create_network(net_flags())
            try:
                p = trt.OnnxParser(n, log)
            except Exception:
                p = None
            if knob == "parser":
                assert p is None or not p
                continue
            assert p.parse(read("yolo_static.onnx"))
            assert b.build_serialized_network(n, b.create_builder_config()) is None
        finally:
            os.environ.pop("TRTSIM_FAIL")
        assert log.find(trt.ILogger.Severity.ERROR, "TRTSIM_FAIL=%s" % knob), (knob, log.msgs)
    tr = Trace()
    os.environ["TRTSIM_FAIL"] = "no_writecache,getbatch_after_false"
    try:
        log, cal, _, plan = calibrate_static(ALGOS[0])
        assert plan is not None and cal.written is None
        assert tr.grep("getBatch after false") == ["getBatch after false -> false"]
        os.environ["TRTSIM_FAIL"] = "no_getbatch"
        log, cal, _, plan = calibrate_static(ALGOS[0])
        assert plan is None and cal.names_seen == []
        os.environ["TRTSIM_FAIL"] = "log_storm"
        log, cal, _, plan = calibrate_static(ALGOS[1])
        assert plan is not None and len(log.msgs) > 20000
    finally:
        os.environ.pop("TRTSIM_FAIL")
        tr.close()


UNIMPLEMENTED = {
    # python snippet -> (class, method whose official slot the abort must name)
    "n.add_identity(n.get_input(0))": ("VNetworkDefinition", "addIdentity"),
    "c.set_tactic_sources(0)": ("VBuilderConfig", "setTacticSources"),
    "n.get_input(0).location = trt.TensorLocation.HOST": ("VTensor", "setLocation"),
}


@test
def unimplemented_slots_abort_with_the_official_slot_number():
    d = shared_dir()
    assert d and FACTS_VERSION, "shared/abi-facts not found (set SHARED_DIR)"
    facts = open(os.path.join(d, "abi-facts", FACTS_VERSION + ".vtables.txt")).read()
    cases = dict(UNIMPLEMENTED)
    if MAJOR == 8:
        cases["b.build_engine(n, c)"] = ("VBuilder", "buildEngineWithConfig")
    elif hasattr(trt.Builder, "build_engine_with_config"):
        # appended in 10.8, after the 10.0.1 layout we declare: lands in trtsim's padding slots
        cases["b.build_engine_with_config(n, c)"] = ("VBuilder", "buildEngineWithConfig")
    for snippet, (cls, meth) in cases.items():
        slot = int(re.search(r"^slot nvinfer1::apiv::%s::%s (\d+)$" % (cls, meth), facts, re.M).group(1))
        code = ("import tensorrt_bindings as trt, sys; sys.path.insert(0, %r); import conformance as C; "
                "log, b, n, p = C.make('yolo_static.onnx'); c = b.create_builder_config(); %s" % (os.path.dirname(__file__), snippet))
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
        want = "trtsim: %s slot %d not implemented" % (cls, slot)
        assert r.returncode != 0 and want in r.stderr, (snippet, r.returncode, r.stderr[-400:], want)


def main():
    passed = failed = 0
    print("conformance: tensorrt_bindings %s against trtsim TRTSIM_VERSION=%d" % (WHEEL, SIM_VERSION))
    for fn in RESULTS:
        try:
            fn()
            passed += 1
            print("  ok   %s" % fn.__name__)
        except Exception:
            failed += 1
            print("  FAIL %s" % fn.__name__)
            traceback.print_exc(limit=3, file=sys.stdout)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
