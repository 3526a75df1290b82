"""Pinned 4 MiB host-to-device copies (the staged feed's ring copies) queued one per call on one
stream, dealt round-robin over several streams, or handed over several per cuMemcpyBatchAsync
call (CUDA 12.8+), against copies of one whole batch on one stream (bench-feed's ceiling). Each
copy call costs the copy engine a fixed few microseconds (4 MiB copies at 0.97 of the ceiling on
an H200); several streams do not hide it, one batch call for several pieces does, wherever the
pieces lie (bench/RESULTS.md, "Ring chunks merged into one copy call"). Driver API through
cuda-bindings (the GPU host has it):

    python3 bench/dma_streams.py
"""
import ctypes
import statistics

from cuda.bindings import driver as cu


def ck(r):
    """The call's value, after checking its CUresult."""
    err, *vals = r if isinstance(r, tuple) else (r,)
    assert err == cu.CUresult.CUDA_SUCCESS, err
    return vals[0] if len(vals) == 1 else vals


MiB, SLOTS, BATCH = 1 << 20, 16, 39321600  # 8x3x640x640 f32
ck(cu.cuInit(0))
ctx = ck(cu.cuDevicePrimaryCtxRetain(ck(cu.cuDeviceGet(0))))
ck(cu.cuCtxSetCurrent(ctx))
RING = 64 * MiB
host = ck(cu.cuMemHostAlloc(max(RING, BATCH), 1))
dst = int(ck(cu.cuMemAlloc(max(RING, BATCH))))
streams = [ck(cu.cuStreamCreate(1)) for _ in range(4)]
start, end = ck(cu.cuEventCreate(0)), ck(cu.cuEventCreate(0))
joins = [ck(cu.cuEventCreate(2)) for _ in streams]  # CU_EVENT_DISABLE_TIMING
guards = [ck(cu.cuEventCreate(2)) for _ in range(64)]


def timed(nstreams, copies):
    """GB/s of the (bytes, stream index, queue) copies, every stream started by one event and
    joined into the first before the end event."""
    s0 = streams[0]
    ck(cu.cuEventRecord(start, s0))
    for s in streams[1:nstreams]:
        ck(cu.cuStreamWaitEvent(s, start, 0))
    total = 0
    for nbytes, queue in copies:
        queue()
        total += nbytes
    for j, s in zip(joins[1:nstreams], streams[1:nstreams]):
        ck(cu.cuEventRecord(j, s))
        ck(cu.cuStreamWaitEvent(s0, j, 0))
    ck(cu.cuEventRecord(end, s0))
    ck(cu.cuEventSynchronize(end))
    return total / (ck(cu.cuEventElapsedTime(start, end)) * 1e-3) / 1e9


def ring(chunk_mib, nstreams, total=640 * 4 * MiB):
    """Copies of chunk_mib MiB through a 64 MiB ring, copy i on stream i % nstreams, an event
    after each (as the feed's ring buffers have)."""
    chunk = chunk_mib * MiB
    slots = RING // chunk

    def copy(i):
        k, s = i % slots, streams[i % nstreams]
        ck(cu.cuMemcpyHtoDAsync(dst + k * chunk, host + k * chunk, chunk, s))
        ck(cu.cuEventRecord(guards[k], s))
    return timed(nstreams, ((chunk, lambda i=i: copy(i)) for i in range(total // chunk)))


def batched(per_call, total=640 * 4 * MiB, scatter=False):
    """4 MiB ring copies handed to the driver per_call at a time in one cuMemcpyBatchAsync
    (CUDA 12.8+), an event after each call."""
    chunk = 4 * MiB
    slots = RING // chunk
    attr = cu.CUmemcpyAttributes()
    attr.srcAccessOrder = cu.CUmemcpySrcAccessOrder.CU_MEMCPY_SRC_ACCESS_ORDER_STREAM
    attr.srcLocHint.type = cu.CUmemLocationType.CU_MEM_LOCATION_TYPE_HOST
    attr.dstLocHint.type = cu.CUmemLocationType.CU_MEM_LOCATION_TYPE_DEVICE
    attr.dstLocHint.id = 0

    def copy(i):
        ks = [(i * per_call + j) % slots for j in range(per_call)]
        # scatter: no two pieces of a call adjacent, on the host or on the device (the feed's
        # chunks come from separate ring buffers and go to separate slots or offsets)
        hs = [(k * 5) % slots for k in ks] if scatter else ks
        ds = [(k * 7) % slots for k in ks] if scatter else ks
        ck(cu.cuMemcpyBatchAsync([cu.CUdeviceptr(dst + k * chunk) for k in ds],
                                 [cu.CUdeviceptr(int(host) + k * chunk) for k in hs],
                                 [chunk] * per_call, per_call, [attr], [0], 1, streams[0]))
        ck(cu.cuEventRecord(guards[ks[-1]], streams[0]))
    return timed(1, ((chunk * per_call, lambda i=i: copy(i))
                     for i in range(total // chunk // per_call)))


def batch(nstreams, reps=40):
    """Whole batches, each cut in nstreams equal parts, one per stream."""
    part = BATCH // nstreams

    def copy(j):
        ck(cu.cuMemcpyHtoDAsync(dst + j * part, host + j * part, part, streams[j]))
    return timed(nstreams, ((part, lambda j=j: copy(j))
                            for _ in range(reps) for j in range(nstreams)))


cases = {
    "one batch per copy (ceiling)": lambda: batch(1),
    "one batch in 2 halves, 2 streams": lambda: batch(2),
    "4 MiB, 1 stream": lambda: ring(4, 1),
    "4 MiB, 2 streams": lambda: ring(4, 2),
    "4 MiB, 3 streams": lambda: ring(4, 3),
    "4 MiB, 4 streams": lambda: ring(4, 4),
    "2 MiB, 1 stream": lambda: ring(2, 1),
    "2 MiB, 2 streams": lambda: ring(2, 2),
    "8 MiB, 1 stream": lambda: ring(8, 1),
    "8 MiB, 2 streams": lambda: ring(8, 2),
    "4 MiB, 1 per cuMemcpyBatchAsync": lambda: batched(1),
    "4 MiB, 2 per cuMemcpyBatchAsync": lambda: batched(2),
    "4 MiB, 4 per cuMemcpyBatchAsync": lambda: batched(4),
    "4 MiB, 8 per cuMemcpyBatchAsync": lambda: batched(8),
    "4 MiB, 2 per call, scattered": lambda: batched(2, scatter=True),
    "4 MiB, 4 per call, scattered": lambda: batched(4, scatter=True),
}
for f in cases.values():  # warm-up
    f()
rates = {name: [] for name in cases}
for _ in range(7):
    for name, f in cases.items():
        rates[name].append(f())
ceiling = statistics.median(rates["one batch per copy (ceiling)"])
for name, v in rates.items():
    m = statistics.median(v)
    print("%-34s median %.2f GB/s (min %.2f, max %.2f; 7 rounds) = %.3f x the ceiling"
          % (name, m, min(v), max(v), m / ceiling))


def check_v1_entry_point():
    """The CUDA 12.8 entry point, `cuMemcpyBatchAsync` with its failIdx argument, which trtq-lite
    calls where a driver lacks CUDA 13's `_v2` (cuda-bindings binds only `_v2`): called through
    ctypes with the argument and attribute layout trtq-lite declares (src/cuda/sys.rs), two
    scattered 4 MiB pieces, read back."""
    lib = ctypes.CDLL("libcuda.so.1")
    f = getattr(lib, "cuMemcpyBatchAsync", None)
    if f is None:
        return "not exported by this driver"

    class Loc(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("id", ctypes.c_int)]

    class Attrs(ctypes.Structure):
        _fields_ = [("src_access_order", ctypes.c_int), ("src_loc_hint", Loc),
                    ("dst_loc_hint", Loc), ("flags", ctypes.c_uint)]

    chunk, n = 4 * MiB, 2
    u64s, sizes = ctypes.c_uint64 * n, ctypes.c_size_t * n
    for k in range(RING // chunk):  # a different byte in every slot
        ctypes.memset(int(host) + k * chunk, 17 + k, chunk)
    src_slots, dst_slots = [3, 9], [12, 1]
    dsts = u64s(*[dst + k * chunk for k in dst_slots])
    srcs = u64s(*[int(host) + k * chunk for k in src_slots])
    attr = Attrs(1, Loc(2, 0), Loc(1, 0), 0)  # STREAM; host -> device 0
    idx, fail = ctypes.c_size_t(0), ctypes.c_size_t(123)
    f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                  ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                  ctypes.c_void_p]
    try:
        stream = int(streams[0])
    except TypeError:
        stream = streams[0].getPtr()
    rc = f(dsts, srcs, sizes(chunk, chunk), n, ctypes.byref(attr), ctypes.byref(idx), 1,
           ctypes.byref(fail), stream)
    if rc != 0:
        return "returned CUresult %d (failIdx %d)" % (rc, fail.value)
    ck(cu.cuStreamSynchronize(streams[0]))
    for s_, d_ in zip(src_slots, dst_slots):
        back = (ctypes.c_ubyte * chunk)()
        ck(cu.cuMemcpyDtoH(ctypes.addressof(back), dst + d_ * chunk, chunk))
        if bytes(back) != bytes([17 + s_]) * chunk:
            return "copied the wrong bytes (slot %d -> %d)" % (s_, d_)
    return "ok, both pieces read back exactly"


print("CUDA 12.8 entry point cuMemcpyBatchAsync (failIdx), trtq-lite's layout:",
      check_v1_entry_point())
